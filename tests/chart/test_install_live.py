"""``helm install canarist charts/canarist`` on the embedded cluster, whose node runs the chart's
pods as real canarist processes (``canarist up --without webhook,reconciler``), with every
component's RBAC enforced by the API server. In order:

1. install ``--wait`` within 60 s; the webhook, reconciler and dashboard pods are canarist
   processes started from the chart's own pod specs;
2. an opted-in Deployment's image change is held by the webhook pod (through its Service), the
   reconciler pod runs the release to its pause, and the dashboard pod (``dashboard.enabled``,
   read-only by default), reached as NOTES.txt says (``kubectl port-forward svc/...``), lists
   it paused and refuses an action (403); ``canarist promote`` finishes it;
3. ``helm test`` passes;
4. killing the leading reconciler pod hands the Lease over within its duration, and the next
   release goes on under the new leader;
5. deleting a webhook pod under continuous admissions fails none;
6. the webhook's certificates (lifetimes of seconds here) rotate, the CA included, under
   continuous admissions, failing none;
7. ``helm upgrade`` with other values, mid-release, within 60 s: the release goes on;
   ``helm upgrade`` with a changed ``policies:`` value takes effect without a pod restart (an
   unlabelled Deployment adopted, held and released with the policy's steps), and back;
8. ``helm uninstall`` within 60 s leaves no object of canarist's;

and through all of it, the API server denied the chart's ServiceAccounts nothing, and each rule
of their roles was the only one to allow some request.

These need the node to run canarist's image (``webhook.cluster.kubelet.process``) and the
policy/v1 kinds the chart uses (``webhook.cluster.kinds.policy``); until the embedded cluster
has them the module is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import helm_sdkpy as helm
import pytest

from tests.chart.live import (
    APP,
    Audit,
    call,
    get_json,
    kubectl,
    ok,
    port_forward,
    sa_user,
    status_of,
    unexercised,
    unused_verbs,
    wait_for,
)
from tests.chart.render import CHART, NAMESPACE, render, render_all
from webhook.cluster.runtime import RunningCluster, start_in_thread

pytest.importorskip("webhook.cluster.kubelet.process",
                    reason="the embedded node does not run canarist's image yet")
pytest.importorskip("webhook.cluster.kinds.policy",
                    reason="the embedded cluster does not serve policy/v1 yet")

pytestmark = pytest.mark.slow

APP_NS = "shop"
VALUES: dict[str, Any] = {
    # Lifetimes of seconds, so that serving pairs and the CA rotate during the module.
    "certificates": {"caLifetime": "150s", "servingLifetime": "30s", "caPropagation": "5s",
                     "checkInterval": 1},
    "reconciler": {"routers": {"ingress": True, "proxy": True}},
    "dashboard": {"enabled": True},
}
USERS = {sa_user(NAMESPACE, n) for n in ("canarist-webhook", "canarist-reconciler",
                                         "canarist-dashboard", "canarist-test")}


@dataclass
class World:
    cluster: RunningCluster = field(repr=False)
    config: helm.Configuration = field(repr=False)
    audit: Audit = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    cluster = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    audit = Audit(set(USERS))
    cluster.api.auth.observers.append(audit)
    try:
        ok(cluster, "create", "namespace", NAMESPACE)
        ok(cluster, "create", "namespace", APP_NS)
        yield World(cluster, helm.Configuration(namespace=NAMESPACE,
                                                kubeconfig=str(cluster.kubeconfig)), audit)
    finally:
        cluster.stop()


def timed(world: World, what: str, coro: Any) -> Any:
    start = time.monotonic()
    result = asyncio.run(coro)
    world.timings[what] = time.monotonic() - start
    return result


def pods(world: World, component: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(
        world.cluster, "pods", "-n", NAMESPACE, "-l",
        f"app.kubernetes.io/component={component}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


class Admissions:
    """Writes to the opted-in Deployment (each one an admission by the webhook) in a loop."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < 5000:
            out = kubectl(self.world.cluster, "-n", APP_NS, "annotate", "--overwrite",
                          "deployment/web", f"test.example.com/n={self.sent}")
            self.sent += 1
            if out.returncode != 0:
                self.failures.append(out.stderr.strip())

    def __enter__(self) -> Admissions:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


@pytest.mark.timeout(300)
def test_1_install_runs_the_charts_pods_as_canarist_processes(world: World) -> None:
    result = timed(world, "install", helm.Install(world.config).run(
        "canarist", str(CHART), values=VALUES, wait=True, timeout=120))
    assert result["info"]["status"] == "deployed"
    assert world.timings["install"] < 60, world.timings
    rendered = {(o["kind"], o["metadata"]["name"]): o for o in render(VALUES)}
    for component, replicas in (("webhook", 2), ("reconciler", 2), ("dashboard", 1)):
        running = pods(world, component)
        assert len(running) == replicas and all(ready(p) for p in running), component
        want = rendered[("Deployment", f"canarist-{component}")]["spec"]["template"]["spec"]
        for pod in running:
            container = pod["spec"]["containers"][0]
            assert container["args"] == want["containers"][0]["args"]
            assert pod["spec"]["serviceAccountName"] == f"canarist-{component}"
            assert pod["status"]["containerStatuses"][0]["state"].get("running")
    log = ok(world.cluster, "logs", "-n", NAMESPACE, pods(world, "webhook")[0]["metadata"][
        "name"])
    assert "certificates" in log  # the keeper of canarist webhook --cert-secret
    config = get_json(world.cluster, "mutatingwebhookconfiguration", "canarist")
    assert config["webhooks"][0]["clientConfig"]["caBundle"]


def test_2_a_release_is_held_by_the_webhook_pod_and_run_by_the_reconciler_pod(
        world: World) -> None:
    c = world.cluster
    ok(c, "apply", "-n", APP_NS, "-f", "-", stdin=APP)
    wait_for("web available", lambda: get_json(c, "deployment", "web", "-n", APP_NS)[
        "status"].get("availableReplicas") == 2)
    held = kubectl(c, "-n", APP_NS, "set", "image", "deployment/web", "app=demo:v2")
    assert held.returncode == 0 and "held for canary steps" in held.stderr, held.stderr
    wait_for("paused at 50%", lambda: status_of(c, APP_NS).get("phase") == "Paused"
             and status_of(c, APP_NS).get("weight") == 50, within=60)
    the_dashboard_pod_shows_it_and_refuses_actions(world)
    promote = subprocess.run([sys.executable, "-m", "webhook.cli", "promote", "web", "-n",
                              APP_NS, "--kubeconfig", str(c.kubeconfig)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert promote.returncode == 0, promote.stderr
    wait_for("Healthy", lambda: status_of(c, APP_NS).get("phase") == "Healthy", within=60)
    image = get_json(c, "deployment", "web", "-n", APP_NS)["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert image == "demo:v2"


def the_dashboard_pod_shows_it_and_refuses_actions(world: World) -> None:
    """The dashboard pod, through ``kubectl port-forward svc/canarist-dashboard 3100`` (the
    command NOTES.txt gives): the release paused at 50% in its JSON list and page, an action
    refused as read-only, and the Deployment untouched."""
    notes = render_all(VALUES)["canarist/templates/NOTES.txt"]
    assert f"kubectl port-forward -n {NAMESPACE} svc/canarist-dashboard 3100" in notes
    before = get_json(world.cluster, "deployment", "web", "-n", APP_NS)["metadata"]
    with port_forward(world.cluster, NAMESPACE, "svc/canarist-dashboard", 3100) as port:
        assert call(port, "/healthz") == (200, "ok\n")
        assert call(port, "/api/v1/config")[1]["readOnly"] is True

        def row() -> dict[str, Any] | None:
            status, body = call(port, "/api/v1/releases")
            assert status == 200, body
            return next((r for r in body["items"] if r["key"] == f"{APP_NS}/web"
                         and r["phase"] == "Paused" and r["weight"] == 50), None)

        wait_for("web paused at 50% on the dashboard", row, within=30)
        status, page = call(port, f"/api/v1/releases/{APP_NS}/web")
        assert status == 200 and not any(a["allowed"] for a in page["actions"]), page
        assert call(port, f"/api/v1/releases/{APP_NS}/web/promote", "POST") == (
            403, {"error": "refused: the dashboard is read-only (--read-only)"})
    after = get_json(world.cluster, "deployment", "web", "-n", APP_NS)["metadata"]
    assert "canarist.io/action" not in after["annotations"]
    assert after["generation"] == before["generation"]


def test_3_helm_test_passes(world: World) -> None:
    result = asyncio.run(helm.ReleaseTest(world.config).run("canarist"))
    assert "canarist-test" in str(result)
    [hook] = [h for h in result["hooks"] if h["name"] == "canarist-test"]
    assert hook["last_run"]["phase"] == "Succeeded"
    pod = get_json(world.cluster, "pod", "canarist-test", "-n", NAMESPACE)
    assert pod["status"]["phase"] == "Succeeded"
    log = ok(world.cluster, "logs", "-n", NAMESPACE, "canarist-test")
    assert log.count(": ok: ") == 2, log  # both webhook replicas held the change
    # `helm test` (pkg/cmd/release_testing.go) then runs the deferred deletion of hooks whose
    # policy says hook-succeeded; Helm's library leaves that to its caller, so do it here.
    assert "hook-succeeded" in hook["delete_policies"]
    ok(world.cluster, "delete", "pod", "-n", NAMESPACE, "canarist-test", "--wait=true")


def leader(world: World) -> str:
    lease = get_json(world.cluster, "lease", "canarist-reconciler", "-n", NAMESPACE)
    return str(lease["spec"].get("holderIdentity") or "")


def lease_time(world: World, field: str) -> datetime:
    lease = get_json(world.cluster, "lease", "canarist-reconciler", "-n", NAMESPACE)
    return datetime.fromisoformat(lease["spec"][field].replace("Z", "+00:00"))


@pytest.mark.timeout(300)
def test_4_killing_the_leader_hands_the_lease_over(world: World) -> None:
    c = world.cluster
    holder = wait_for("a leader", lambda: leader(world))
    victim = next(p["metadata"]["name"] for p in pods(world, "reconciler")
                  if holder.startswith(p["metadata"]["name"]))
    last_renewed = lease_time(world, "renewTime")
    ok(c, "delete", "pod", "-n", NAMESPACE, victim, "--grace-period=0", "--force")
    new = wait_for("another leader", lambda: (h := leader(world)) and not h.startswith(victim)
                   and h, within=60)
    # by the Lease's own times (not the test's polling): taken over once the victim's last
    # renewal is a lease duration (15 s) old, give or take the candidate's retries (2 s)
    took = (lease_time(world, "acquireTime") - last_renewed).total_seconds()
    assert took < 15 + 10, took
    held = kubectl(c, "-n", APP_NS, "set", "image", "deployment/web", "app=demo:v3")
    assert "held for canary steps" in held.stderr, held.stderr
    wait_for("paused at 50% under the new leader", lambda: status_of(c, APP_NS).get(
        "phase") == "Paused" and status_of(c, APP_NS).get("weight") == 50, within=60)
    assert leader(world) == new


def test_5_deleting_a_webhook_pod_fails_no_admission(world: World) -> None:
    c = world.cluster
    with Admissions(world) as admissions:
        time.sleep(2)
        victim = pods(world, "webhook")[0]["metadata"]["name"]
        ok(c, "delete", "pod", "-n", NAMESPACE, victim)
        wait_for("two webhook pods ready again", lambda: len(
            [p for p in pods(world, "webhook") if ready(p)]) == 2, within=60)
        time.sleep(2)
    assert admissions.failures == [], admissions.failures[:3]
    assert admissions.sent > 20


@pytest.mark.timeout(300)
def test_6_certificates_rotate_under_admissions_failing_none(world: World) -> None:
    c = world.cluster

    def secret() -> dict[str, Any]:
        data: dict[str, Any] = get_json(c, "secret", "canarist-webhook-tls", "-n",
                                        NAMESPACE)["data"]
        return data

    first = secret()
    with Admissions(world) as admissions:
        wait_for("a new CA signing", lambda: secret()["ca.crt"] != first["ca.crt"],
                 within=110, every=1)
        time.sleep(3)
    assert admissions.failures == [], admissions.failures[:3]
    now = secret()
    bundle = base64.b64decode(now["ca-bundle.crt"]).decode()
    assert base64.b64decode(first["ca.crt"]).decode().strip() in bundle  # until it expires


UPGRADED = {**VALUES, "webhook": {"logLevel": "debug"},
            "reconciler": {**VALUES["reconciler"], "workers": 8}}


@pytest.mark.timeout(300)
def test_7_upgrade_mid_release_keeps_it_going(world: World) -> None:
    c = world.cluster
    assert status_of(c, APP_NS).get("phase") == "Paused"
    result = timed(world, "upgrade", helm.Upgrade(world.config).run(
        "canarist", str(CHART), values=UPGRADED, wait=True, timeout=120))
    assert result["version"] == 2 and world.timings["upgrade"] < 60, world.timings
    args = get_json(c, "deployment", "canarist-reconciler", "-n", NAMESPACE)["spec"][
        "template"]["spec"]["containers"][0]["args"]
    assert "--workers=8" in args
    promote = subprocess.run([sys.executable, "-m", "webhook.cli", "promote", "web", "-n",
                              APP_NS, "--kubeconfig", str(c.kubeconfig)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert promote.returncode == 0, promote.stderr
    wait_for("Healthy after the upgrade", lambda: status_of(c, APP_NS).get(
        "phase") == "Healthy", within=60)
    wait_for("the canary gone", lambda: kubectl(
        c, "-n", APP_NS, "get", "deployment", "web-canary").returncode != 0, within=60)


TEAM_NS = "team"
TEAM = """
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: app, image: "demo:v1", ports: [{containerPort: 8080}]}]
"""
POLICIES = [{"name": "team", "namespaces": [TEAM_NS], "adopt": True,
             "defaults": {"traffic-router": "proxy", "scale-down-delay": "1s",
                          "steps": "- setWeight: 50\n- pause: {duration: 1s}\n"}}]


def pod_uids(world: World) -> set[str]:
    return {p["metadata"]["uid"] for c in ("webhook", "reconciler") for p in pods(world, c)}


@pytest.mark.timeout(300)
def test_7b_helm_upgrade_with_changed_policies_applies_without_a_pod_restart(
        world: World) -> None:
    c = world.cluster
    ok(c, "create", "namespace", TEAM_NS)
    ok(c, "apply", "-n", TEAM_NS, "-f", "-", stdin=TEAM)
    wait_for("api available", lambda: get_json(c, "deployment", "api", "-n", TEAM_NS)[
        "status"].get("availableReplicas") == 2)
    before = pod_uids(world)
    assert status_of(c, TEAM_NS, "api") == {}
    started = time.monotonic()
    timed(world, "upgrade-policies", helm.Upgrade(world.config).run(
        "canarist", str(CHART), values={**UPGRADED, "policies": POLICIES}, wait=True,
        timeout=120))
    wait_for("api adopted by policy team", lambda: status_of(c, TEAM_NS, "api").get(
        "policy") == "team", within=30)
    world.timings["policy-applied"] = time.monotonic() - started
    assert pod_uids(world) == before  # nothing restarted
    hooks = get_json(c, "mutatingwebhookconfiguration", "canarist")["webhooks"]
    assert [h["name"] for h in hooks] == ["deployments.canarist.io",
                                         "policy-namespaces.canarist.io"]
    # the webhook pods hold an unlabelled Deployment's change (once the new entry has the
    # caBundle the webhook keeps in every entry calling its Service)
    wait_for("the new entry trusted", lambda: all(h["clientConfig"].get("caBundle") for h in
                                                  get_json(c, "mutatingwebhookconfiguration",
                                                           "canarist")["webhooks"]))
    held = kubectl(c, "-n", TEAM_NS, "set", "image", "deployment/api", "app=demo:v2")
    assert held.returncode == 0 and "held for canary steps" in held.stderr, held.stderr
    wait_for("released with the policy's steps", lambda: status_of(c, TEAM_NS, "api").get(
        "phase") == "Healthy" and status_of(c, TEAM_NS, "api").get("steps") == 2
        and status_of(c, TEAM_NS, "api").get("canaryHash") == status_of(
            c, TEAM_NS, "api").get("stableHash"), within=90)
    # and back: the upgrade without the policy hands the Deployment back
    timed(world, "upgrade-no-policies", helm.Upgrade(world.config).run(
        "canarist", str(CHART), values=UPGRADED, wait=True, timeout=120))
    wait_for("api handed back", lambda: status_of(c, TEAM_NS, "api") == {}, within=30)
    assert pod_uids(world) == before
    assert [h["name"] for h in get_json(c, "mutatingwebhookconfiguration", "canarist")[
        "webhooks"]] == ["deployments.canarist.io"]


def test_8_roles_hold_exactly_what_was_used(world: World) -> None:
    objects = render(VALUES)
    for user in sorted(USERS):
        assert world.audit.denied(user) == [], user
        assert unexercised(world.audit, objects, user) == [], user
    assert unused_verbs(world.audit, objects, sa_user(NAMESPACE, "canarist-dashboard")) == []


@pytest.mark.timeout(300)
def test_9_uninstall_leaves_nothing_and_a_release_in_flight_recoverable(world: World) -> None:
    c = world.cluster
    held = kubectl(c, "-n", APP_NS, "set", "image", "deployment/web", "app=demo:v4")
    assert "held for canary steps" in held.stderr, held.stderr
    wait_for("paused at 50%", lambda: status_of(c, APP_NS).get("phase") == "Paused"
             and status_of(c, APP_NS).get("weight") == 50, within=60)
    timed(world, "uninstall", helm.Uninstall(world.config).run("canarist", wait=True,
                                                                timeout=120))
    assert world.timings["uninstall"] < 60, world.timings

    def leftovers() -> list[str]:
        out = []
        for kind in ("deployments", "services", "serviceaccounts", "secrets", "leases",
                     "roles", "rolebindings", "poddisruptionbudgets", "configmaps", "pods",
                     "endpointslices"):
            for o in get_json(c, kind, "-n", NAMESPACE)["items"]:
                name = o["metadata"]["name"]
                if name.startswith(("canarist", "sh.helm.release")):
                    out.append(f"{kind}/{name}")
        for kind in ("clusterroles", "clusterrolebindings", "mutatingwebhookconfigurations"):
            out += [f"{kind}/{o['metadata']['name']}" for o in get_json(c, kind)["items"]
                    if o["metadata"]["name"].startswith("canarist")]
        return out

    try:
        wait_for("nothing of canarist's left", lambda: leftovers() == [], within=60)
    except AssertionError:
        raise AssertionError(f"left after uninstall: {leftovers()}") from None
    # The release in flight is left as docs/install.md says: held, canary running, the stable
    # Service pinned; finishing it by hand as the doc says rolls the new version out.
    web = get_json(c, "deployment", "web", "-n", APP_NS)
    assert web["spec"]["paused"] is True
    assert get_json(c, "deployment", "web-canary", "-n", APP_NS)["status"]["readyReplicas"]
    service = get_json(c, "service", "web", "-n", APP_NS)
    assert "rollouts-pod-template-hash" in service["spec"]["selector"]
    assert service["metadata"]["annotations"]["canarist.io/original-selector"]
    ok(c, "-n", APP_NS, "rollout", "resume", "deployment/web")
    ok(c, "-n", APP_NS, "patch", "service", "web", "--type=json", "-p",
       '[{"op": "remove", "path": "/spec/selector/rollouts-pod-template-hash"}]')
    ok(c, "-n", APP_NS, "annotate", "service", "web", "canarist.io/managed-by-",
       "canarist.io/original-selector-")
    ok(c, "-n", APP_NS, "delete", "deployment", "web-canary")
    ok(c, "-n", APP_NS, "delete", "service", "web-canary")
    ok(c, "-n", APP_NS, "rollout", "status", "deployment/web", "--timeout=60s")
    web = get_json(c, "deployment", "web", "-n", APP_NS)
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:v4"
    assert get_json(c, "service", "web", "-n", APP_NS)["spec"]["selector"] == {"app": "web"}
    print(f"install, upgrade, uninstall took (s): {world.timings}")
