"""The JSON API and the HTTP rules of ``canarist dashboard`` (a real process on the embedded
cluster): filters, errors, actions, CSRF, DNS rebinding, sizes, headers, token auth."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.dashboard.release import Cluster, DashboardProcess
from webhook.cluster.runtime import RunningCluster
from webhook.spec.names import ACTION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def held(kube: Cluster) -> str:
    """A namespace with ``web`` held at its first pause and ``api`` at rest."""
    ns = kube.namespace("apins")
    kube.deploy(ns, "web")
    kube.deploy(ns, "api")
    kube.release(ns, "web")
    return ns


def raw(d: DashboardProcess, method: str, path: str, headers: dict[str, str],
        body: bytes = b"") -> tuple[int, bytes]:
    """A request with exactly these headers (urllib would add or fix some)."""
    url = urlsplit(d.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_list_filters_and_errors(dashboard: DashboardProcess, held: str) -> None:
    doc = dashboard.get(f"/api/v1/releases?ns={held}").json()
    assert [(r["name"], r["phase"], r["stepText"], r["weight"]) for r in doc["items"]] == [
        ("api", "Healthy", "4/4", 0), ("web", "Paused", "2/4", 20)]
    assert held in doc["namespaces"] and doc["total"] >= 2
    web = doc["items"][1]
    assert web["attention"] == ["paused"] and web["setWeight"] == 20
    assert web["canaryHash"] and web["stableHash"] != web["canaryHash"]
    paused = dashboard.get(f"/api/v1/releases?ns={held}&phase=Paused&attention=1").json()
    assert [r["name"] for r in paused["items"]] == ["web"]
    bad = dashboard.get("/api/v1/releases?phase=Sleeping")
    assert bad.status == 400 and bad.json()["error"].startswith(
        "filters: phase: unknown phase 'Sleeping'")
    assert dashboard.get(f"/api/v1/releases/{held}/nope").status == 404
    invalid = dashboard.get("/api/v1/releases/Bad_NS/web")
    assert invalid.status == 400 and "namespace" in invalid.json()["error"]


def test_one_release(dashboard: DashboardProcess, held: str, kube: Cluster) -> None:
    doc = dashboard.get(f"/api/v1/releases/{held}/web").json()
    assert [(s["text"], s["state"]) for s in doc["stepList"]] == [
        ("setWeight 20", "done"), ("pause", "current"), ("setWeight 50", "pending"),
        ("pause", "pending")]
    roles = {r["role"]: r for r in doc["revisions"]}
    assert set(roles) == {"canary", "stable"}
    assert roles["canary"]["images"] == ["demo:v2"] and roles["stable"]["images"] == ["demo:v1"]
    stable_pods = [p for rs in roles["stable"]["replicaSets"] for p in rs["pods"]]
    assert len(stable_pods) == 2 and all(p["ready"] for p in stable_pods)
    # (the point of the canary's scaling is there unless its plan raced another write)
    assert [p[1:] for p in doc["history"]["points"]][-1] == [20, 20, "Paused", 1]
    assert doc["history"] == kube.history(held, "web").to_dict()
    reasons = {e["reason"] for e in doc["events"]}
    assert "WeightChanged" in reasons
    allowed = {a["action"] for a in doc["actions"] if a["allowed"]}
    assert allowed == {"promote", "promote-full", "abort", "pause", "undo"}
    assert doc["rates"] == {"enabled": False, "reason": "start the dashboard with "
                            "--proxy-admin-url to see request and error rates"}


def test_an_adopted_deployment_shows_its_unstamped_stable_revision(
        dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("adopted")
    kube.deploy(ns, "web", adopt=True)
    status = kube.release(ns, "web")
    doc = dashboard.get(f"/api/v1/releases/{ns}/web").json()
    roles = {r["role"]: r for r in doc["revisions"]}
    assert roles["stable"]["hash"] == status.stable_hash  # the content hash, as canarist's
    stable = roles["stable"]["replicaSets"][0]
    assert (stable["replicas"], stable["ready"]) == (2, 2)
    assert stable["pods"] == []  # (unstamped pods are not cached: counted by their ReplicaSet)
    assert [p["ready"] for p in roles["canary"]["replicaSets"][0]["pods"]] == [True]


def test_actions(dashboard: DashboardProcess, held: str, kube: Cluster) -> None:
    refused = dashboard.act(held, "api", "abort")
    assert refused.status == 409
    assert refused.json() == {"error": "abort refused: no release in progress (phase Healthy): "
                                       "nothing to abort"}
    assert dashboard.act(held, "web", "explode").status == 404
    assert dashboard.act(held, "nope", "pause").status == 404
    done = dashboard.act(held, "web", "pause")
    assert done.status == 200, done.body
    assert done.json() == {"done": True,
                           "message": f"deployment.apps/web annotated: {ACTION}=pause"}
    kube.wait(held, "web", "the pause", lambda s, d: s.extra.get("userPaused") is True)
    doc = dashboard.get(f"/api/v1/releases/{held}/web").json()
    assert doc["userPaused"] and {a["action"]: a["allowed"] for a in doc["actions"]}["resume"]
    assert dashboard.act(held, "web", "resume").status == 200
    kube.wait(held, "web", "the resume", lambda s, d: "userPaused" not in s.extra)


def test_undo(dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("apiundo")
    kube.deploy(ns, "web")
    at_rest = dashboard.get(f"/api/v1/releases/{ns}/web/undo").json()
    assert at_rest == {"allowed": False, "reason": "no earlier revision to go back to (rollout "
                                                   "history is empty)"}
    bad = dashboard.get(f"/api/v1/releases/{ns}/web/undo?toRevision=0")
    assert bad.status == 400
    assert bad.json()["error"] == "undo: toRevision: must be a revision number (1 or more), got 0"
    assert dashboard.get(f"/api/v1/releases/{ns}/web/undo?color=red").status == 400
    status = kube.release(ns, "web")
    preview = dashboard.get(f"/api/v1/releases/{ns}/web/undo").json()
    assert preview == {"allowed": True, "kind": "rollback", "revision": 1,
                       "hash": status.stable_hash,
                       "effect": f"Rolls back to the stable revision 1 ({status.stable_hash}) "
                                 "(the release in progress is dropped): the template goes back "
                                 "and no step runs."}
    odd = dashboard.request("POST", f"/api/v1/releases/{ns}/web/undo", body=b'{"toRevision": "x"}',
                            headers={"X-Canarist-Request": "1"})
    assert odd.status == 400
    missing = dashboard.request("POST", f"/api/v1/releases/{ns}/web/undo",
                                body=b'{"toRevision": 9}', headers={"X-Canarist-Request": "1"})
    assert missing.status == 409
    # (the paused Deployment made no ReplicaSet for the new template: the canary runs it)
    assert missing.json()["error"] == "undo refused: unable to find revision 9 (revisions: 1)"
    done = dashboard.request("POST", f"/api/v1/releases/{ns}/web/undo", body=b"",
                             headers={"X-Canarist-Request": "1"})
    assert done.status == 200, done.body
    assert done.json()["message"].startswith("deployment.apps/web: rolling back to the stable "
                                             "revision 1")
    kube.wait(ns, "web", "the rollback", lambda s, _: s.canary_hash == status.stable_hash)


def test_csrf_rebinding_and_sizes(dashboard: DashboardProcess, held: str, kube: Cluster) -> None:
    path = f"/api/v1/releases/{held}/web/pause"
    host = urlsplit(dashboard.url).netloc
    base = {"Host": host, "Content-Type": "application/json"}
    cases = [
        (dict(base), 403, "missing header X-Canarist-Request: 1"),
        (dict(base, **{"X-Canarist-Request": "1", "Origin": "https://evil.example"}), 403,
         "cross-origin request"),
        (dict(base, **{"X-Canarist-Request": "1", "Sec-Fetch-Site": "cross-site"}), 403,
         "cross-site request"),
        (dict(base, **{"X-Canarist-Request": "1", "Host": "evil.example"}), 421,
         "this dashboard answers only to localhost"),
    ]
    for headers, status, message in cases:
        code, body = raw(dashboard, "POST", path, headers, b"{}")
        assert (code, message in json.loads(body)["error"]) == (status, True), (headers, body)
    code, body = raw(dashboard, "GET", "/api/v1/releases", {"Host": "rebound.example:3100"})
    assert code == 421  # a DNS-rebinding page cannot read either
    code, _ = raw(dashboard, "OPTIONS", path, {"Host": host, "Origin": "https://evil.example",
                                               "Access-Control-Request-Method": "POST"})
    assert code == 403
    big = dashboard.request("POST", path, body=b"{" + b" " * 20000 + b"}",
                            headers={"X-Canarist-Request": "1",
                                     "Content-Type": "application/json"})
    assert big.status == 413
    odd = dashboard.request("POST", path, body=b'{"x": 1}',
                            headers={"X-Canarist-Request": "1"})
    assert odd.status == 400
    assert ACTION not in kube.annotations(held, "web")


def test_security_headers_everywhere(dashboard: DashboardProcess) -> None:
    for path in ("/", "/static/app.js", "/api/v1/releases", "/api/v1/releases/x/y",
                 "/releases/a/b"):
        answer = dashboard.get(path)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    page = dashboard.get("/").body.decode()
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere (no CDN)
    for name in ("app.js", "live.js", "actions.js", "chart.js", "detail.js", "style.css"):
        text = dashboard.get(f"/static/{name}").body.decode()
        assert "innerHTML" not in text and "eval(" not in text, name
        assert "https://" not in text and "//cdn" not in text, name


@pytest.fixture(scope="module")
def token_dashboard(product: RunningCluster) -> Iterator[DashboardProcess]:
    with DashboardProcess.run(product.kubeconfig, "--auth", "token") as d:
        yield d


def test_token_auth(token_dashboard: DashboardProcess, held: str, kube: Cluster) -> None:
    d = token_dashboard
    other = kube.namespace("apiother")
    kube.deploy(other, "secret")
    viewer = kube.token(held, "apiviewer", [("get,list,watch", "deployments.apps", held)])
    operator = kube.token(held, "apioperator", [("get,list,watch,patch", "deployments.apps",
                                                 held)])
    assert d.get("/api/v1/config").json() == {"auth": "token", "readOnly": False,
                                              "version": d.get("/api/v1/config").json()[
                                                  "version"], "rates": False}
    assert d.get("/api/v1/releases").status == 401
    assert d.get("/api/v1/releases", token="not-a-token").status == 401
    assert d.get("/api/v1/releases", token="bad token").status == 401
    seen = d.get("/api/v1/releases", token=viewer).json()
    assert {r["namespace"] for r in seen["items"]} == {held}
    assert d.get(f"/api/v1/releases/{other}/secret", token=viewer).status == 403
    streamed = d.get(f"/api/v1/releases/{other}/secret/stream", token=viewer)
    assert streamed.status == 403, streamed.body
    detail = d.get(f"/api/v1/releases/{held}/web", token=viewer).json()
    assert detail["hidden"] == ["pods", "events"]  # no list on pods or events in that Role
    assert all(rs["pods"] == [] for r in detail["revisions"] for rs in r["replicaSets"])
    denied = d.act(held, "web", "promote", token=viewer)
    assert denied.status == 403
    assert denied.json()["error"].startswith("Permission denied: ")
    assert ACTION not in kube.annotations(held, "web")
    allowed = d.act(held, "web", "pause", token=operator)
    assert allowed.status == 200, allowed.body
    kube.wait(held, "web", "the pause", lambda s, _: s.extra.get("userPaused") is True)
    assert d.act(held, "web", "resume", token=operator).status == 200
    kube.wait(held, "web", "the resume", lambda s, _: "userPaused" not in s.extra)
