"""The chart's roles hold exactly what its components use, shown on the embedded API server with
RBAC enforced: the chart's ServiceAccounts, roles and webhook configuration are applied, then
``canarist webhook``, two ``canarist reconcile``, ``canarist proxy`` and ``canarist dashboard``
run as processes with the chart's own arguments, each authenticated with its ServiceAccount's
token. An opted-in Deployment is held by the webhook (through its Service), released by the
reconciler through NGINX and the proxy router, shown by the dashboard and promoted — through the
dashboard where it may act (``dashboard.readOnly: false``), refused there (403) where it is
read-only; the webhook renews its serving pair meanwhile. The API server's authorization
decisions are recorded: nothing was denied, and every rule of every role was the only one to
allow some request, so removing any rule would have failed the run (for the dashboard, every
verb of every rule was used). Then a rule is removed for real and the component is seen failing
with the API server's 403."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.live import (
    APP,
    Audit,
    call,
    get_json,
    kubectl,
    ok,
    role_rules,
    sa_kubeconfig,
    sa_user,
    status_of,
    unexercised,
    unused_verbs,
    wait_for,
)
from tests.chart.render import NAMESPACE, render
from webhook.cluster.runtime import RunningCluster, start_in_thread

pytestmark = pytest.mark.slow

VALUES: dict[str, Any] = {
    "certificates": {"servingLifetime": "24s", "caLifetime": "30m", "caPropagation": "5s",
                     "checkInterval": 1},
    "reconciler": {"routers": {"ingress": True, "proxy": True, "istio": False,
                               "gatewayApi": False, "smi": False}},
    "proxy": {"enabled": True},
}
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # release namespace, app namespace, values on top of VALUES
    # (a policy selecting namespaces by label: webhook and reconciler watch the Namespaces)
    "every-namespace": (NAMESPACE, "shop", {
        "dashboard": {"enabled": True, "readOnly": False},
        "policies": [{"name": "labelled",
                      "namespaceSelector": {"matchLabels": {"canary": "yes"}}}]}),
    "one-namespace": ("canarist-shop", "shop2", {"clusterInstall": False,
                                                  "watchNamespace": "shop2",
                                                  "fullnameOverride": "shopcan",
                                                  "dashboard": {"enabled": True}}),
}
READ_ONLY = {"error": "refused: the dashboard is read-only (--read-only)"}
SERVED = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
          "Service", "MutatingWebhookConfiguration", "ConfigMap"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    deploy = next(o for o in objects if o["kind"] == "Deployment"
                  and o["metadata"]["name"] == name)
    c: dict[str, Any] = deploy["spec"]["template"]["spec"]["containers"][0]
    return c


def with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """``args`` with ``--flag=value`` replacing the chart's (the process runs on this machine,
    not in a pod: its own port, its own directory)."""
    return [a for a in args if not a.startswith(f"{flag}=")] + [f"{flag}={value}"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    c = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    try:
        yield c
    finally:
        c.stop()


class Processes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], kubeconfig: Path) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "webhook.cli", *args,
                                 f"--kubeconfig={kubeconfig}"], stdout=log,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for _, p in self.procs:
            p.terminate()
        for _, p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.parametrize("case", CASES)
def test_every_rule_is_used_and_nothing_is_denied(cluster: RunningCluster, tmp_path: Path,
                                                  case: str) -> None:
    ns, app, extra = CASES[case]
    full = str(extra.get("fullnameOverride", "canarist"))
    webhook, reconciler = sa_user(ns, f"{full}-webhook"), sa_user(ns, f"{full}-reconciler")
    proxy, dashboard = sa_user(ns, f"{full}-proxy"), sa_user(ns, f"{full}-dashboard")
    audit = Audit({webhook, reconciler, proxy, dashboard})
    cluster.api.auth.observers.append(audit)
    objects = render({**VALUES, **extra}, namespace=ns)
    ok(cluster, "create", "namespace", ns)
    ok(cluster, "create", "namespace", app)
    served = [o for o in objects if o["kind"] in SERVED
              and "helm.sh/hook" not in (o["metadata"].get("annotations") or {})]
    ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(served))
    # The Deployments exist (the Lease's owner), with no pods: the processes below are them.
    for name in (f"{full}-webhook", f"{full}-reconciler", f"{full}-proxy",
                 f"{full}-dashboard"):
        deploy = next(o for o in objects if o["kind"] == "Deployment"
                      and o["metadata"]["name"] == name)
        deploy["spec"]["replicas"] = 0
        ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump(deploy))
    procs = Processes(tmp_path)
    try:
        webhook_kc = sa_kubeconfig(cluster, ns, f"{full}-webhook", tmp_path / "w.kc")
        reconciler_kc = sa_kubeconfig(cluster, ns, f"{full}-reconciler",
                                      tmp_path / "r.kc")
        port = free_port()
        args = with_flag(container(objects, f"{full}-webhook")["args"], "--listen",
                         f"127.0.0.1:{port}")
        procs.start("webhook", with_flag(args, "--cert-dir", str(tmp_path / "certs")),
                    webhook_kc)
        ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{full}-webhook-local", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": f"{full}-webhook"}},
            "addressType": "IPv4",
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}))
        proxy_kc = sa_kubeconfig(cluster, ns, f"{full}-proxy", tmp_path / "p.kc")
        # In its pod --cluster means in-cluster config; here the kubeconfig names the cluster.
        traffic, admin = free_port(), free_port()
        args = with_flag([a for a in container(objects, f"{full}-proxy")["args"]
                          if a != "--cluster"], "--listen", f"127.0.0.1:{traffic}")
        procs.start("proxy", with_flag(args, "--admin-listen", f"127.0.0.1:{admin}"), proxy_kc)
        # The dashboard: the chart's flags, its address and the proxy's admin one local.
        dash_args = container(objects, f"{full}-dashboard")["args"]
        assert f"--proxy-admin-url=http://{full}-proxy.{ns}:9901" in dash_args
        dash = free_port()
        procs.start("dashboard", with_flag(
            with_flag(dash_args, "--listen", f"127.0.0.1:{dash}"), "--proxy-admin-url",
            f"http://127.0.0.1:{admin}"), sa_kubeconfig(cluster, ns, f"{full}-dashboard",
                                                        tmp_path / "d.kc"))
        for i in range(2):
            args = container(objects, f"{full}-reconciler")["args"]
            procs.start(f"reconciler{i}", with_flag(args, "--metrics-address",
                                                    f"127.0.0.1:{free_port()}"), reconciler_kc)
        wait_for("the caBundle", lambda: get_json(
            cluster, "mutatingwebhookconfiguration", full)["webhooks"][0][
                "clientConfig"].get("caBundle"), within=40)
        first_pair = get_json(cluster, "secret", f"{full}-webhook-tls", "-n",
                              ns)["data"]["tls.crt"]

        ok(cluster, "apply", "-n", app, "-f", "-", stdin=APP)
        wait_for("web available", lambda: get_json(cluster, "deployment", "web", "-n", app)[
            "status"].get("availableReplicas") == 2)
        held = kubectl(cluster, "-n", app, "set", "image", "deployment/web", "app=demo:v2")
        assert held.returncode == 0, held.stderr
        assert "held for canary steps" in held.stderr
        wait_for("paused at 50%", lambda: status_of(cluster, app).get("phase") == "Paused"
                 and status_of(cluster, app).get("weight") == 50, within=60)
        assert get_json(cluster, "ingress", "-n", app)["items"]  # the canary Ingress
        read_only = "--read-only" in dash_args
        use_the_dashboard(dash, app, traffic, write=not read_only)
        if read_only:
            # auth: token gets the account no more than read-only does: a second dashboard
            # under the same account, with the token mode's flags, promotes as a person
            token_values = {**VALUES, **extra, "dashboard": {"enabled": True,
                                                             "readOnly": False,
                                                             "auth": "token"}}
            token_objects = render(token_values, namespace=ns)
            assert role_rules(token_objects, dashboard) == role_rules(objects, dashboard)
            port = free_port()
            procs.start("dashboard-token", with_flag(with_flag(
                container(token_objects, f"{full}-dashboard")["args"], "--listen",
                f"127.0.0.1:{port}"), "--proxy-admin-url", f"http://127.0.0.1:{admin}"),
                tmp_path / "d.kc")
            promote_with_tokens(cluster, audit, port, app, full)
        wait_for("Healthy", lambda: status_of(cluster, app).get("phase") == "Healthy",
                 within=60)
        wait_for("the canary gone", lambda: kubectl(
            cluster, "-n", app, "get", "deployment", "web-canary").returncode != 0,
                 within=30)
        wait_for("a renewed serving pair", lambda: get_json(
            cluster, "secret", f"{full}-webhook-tls", "-n", ns)["data"][
                "tls.crt"] != first_pair, within=30)
        time.sleep(2)  # a few more renewals of the Lease and checks of the Secret

        for user in (webhook, reconciler, proxy, dashboard):
            assert audit.denied(user) == [], user
            assert unexercised(audit, objects, user) == [], user
        assert unused_verbs(audit, objects, dashboard) == []
        lease = get_json(cluster, "lease", f"{full}-reconciler", "-n", ns)
        assert lease["metadata"]["ownerReferences"][0]["name"] == f"{full}-reconciler"
        assert lease["spec"]["holderIdentity"]
    finally:
        procs.stop()
        kubectl(cluster, "delete", "mutatingwebhookconfiguration", "cut", "--ignore-not-found")
        cluster.api.auth.observers.remove(audit)
        kubectl(cluster, "delete", "mutatingwebhookconfiguration", full, "--ignore-not-found")


def use_the_dashboard(port: int, app: str, proxy: int, write: bool) -> None:
    """The release paused at 50% as the dashboard shows it, with the request rates of the
    traffic sent through the proxy (port ``proxy``); in write mode promoted through it (which
    reads the Deployment and patches it with the dashboard's own account), else refused without
    a request to the API server."""
    wait_for("the dashboard in sync", lambda: call(port, "/healthz")[0] == 200, within=60)
    key = f"{app}/web"

    def row() -> dict[str, Any] | None:
        status, body = call(port, "/api/v1/releases")
        assert status == 200, body
        return next((r for r in body["items"] if r["key"] == key
                     and r["phase"] == "Paused" and r["weight"] == 50), None)

    wait_for("the release paused at 50% on the dashboard", row, within=30)
    status, doc = call(port, f"/api/v1/releases/{key}")
    assert status == 200 and doc["stepText"] == "2/2", doc
    pods = [p for r in doc["revisions"] for rs in r["replicaSets"] for p in rs["pods"]]
    assert pods and all(p["ready"] for p in pods), doc["revisions"]  # canarist's pods, cached
    # the proxy's rates, through the admin address the chart gives the dashboard
    def send(count: int) -> None:
        for _ in range(count):
            request = urllib.request.Request(f"http://127.0.0.1:{proxy}/",
                                             headers={"Host": "shop.example.com"})
            with urllib.request.urlopen(request, timeout=10) as r:
                assert r.status == 200

    rates: dict[str, Any] = {}

    def requests_seen() -> float:
        # traffic all along: the rates are differences between the dashboard's polls (every
        # 5 s), so requests sent before its first poll of the proxy would show in none
        send(5)
        rates.update(call(port, f"/api/v1/releases/{key}")[1]["rates"])
        assert rates["enabled"], rates
        # (a poll before the proxy listened leaves a problem until the next one, 5 s later)
        return 0.0 if rates["problem"] else sum(s[1] + s[3] for s in rates["samples"])

    try:
        wait_for("the proxy's rates of web", requests_seen, within=60)
    except AssertionError:
        raise AssertionError(f"no rates: {rates}") from None
    promote, undo = f"/api/v1/releases/{key}/promote", f"/api/v1/releases/{key}/undo"
    if not write:
        assert call(port, promote, "POST") == (403, READ_ONLY)
        assert call(port, undo, "POST") == (403, READ_ONLY)
        assert call(port, undo) == (403, READ_ONLY)
        return
    status, preview = call(port, undo)  # what undo would do: read fresh with the account
    assert status == 200 and preview["allowed"] and preview["kind"] == "rollback", preview
    status, done = call(port, promote, "POST")
    assert status == 200 and done["done"], done


def promote_with_tokens(cluster: RunningCluster, audit: Audit, port: int, app: str,
                        full: str) -> None:
    """``--auth token``: a viewer (canarist-view) sees the release and is refused the promote
    by the API server (403, nothing written); an editor (canarist-edit) promotes it — the
    patch is the editor's, not the dashboard's."""
    tokens = {}
    for who in ("view", "edit"):
        ok(cluster, "-n", app, "create", "serviceaccount", who)
        ok(cluster, "-n", app, "create", "rolebinding", who, f"--clusterrole={full}-{who}",
           f"--serviceaccount={app}:{who}")
        tokens[who] = ok(cluster, "create", "token", who, "-n", app).strip()
    audit.users.add(sa_user(app, "edit"))
    wait_for("the token dashboard in sync", lambda: call(port, "/healthz")[0] == 200,
             within=60)
    key = f"{app}/web"
    assert call(port, "/api/v1/releases")[0] == 401  # no token
    for token in tokens.values():
        status, body = call(port, "/api/v1/releases", token=token)
        assert status == 200 and [r["key"] for r in body["items"]] == [key], body
    promote = f"/api/v1/releases/{key}/promote"
    status, body = call(port, promote, "POST", token=tokens["view"])
    assert status == 403 and 'cannot patch resource "deployments"' in body["error"], body
    web = get_json(cluster, "deployment", "web", "-n", app)["metadata"]["annotations"]
    assert "canarist.io/action" not in web
    status, body = call(port, promote, "POST", token=tokens["edit"])
    assert status == 200 and body["done"], body
    assert [r.name for r in audit.allowed(sa_user(app, "edit")) if r.verb == "patch"
            and r.resource == "deployments"] == ["web"]


def test_a_missing_rule_fails_the_component_with_a_403(cluster: RunningCluster,
                                                       tmp_path: Path) -> None:
    """Direct check: without the rule that lets it write the caBundle, a new webhook never
    becomes ready and says why."""
    ns = "cut-system"
    objects = render({**VALUES, "fullnameOverride": "cut"}, namespace=ns)
    ok(cluster, "create", "namespace", ns)
    for o in objects:
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "cut-webhook":
            o["rules"][0]["verbs"] = ["get"]  # no update: the caBundle cannot be written
    served = [o for o in objects if o["kind"] in SERVED
              and "helm.sh/hook" not in (o["metadata"].get("annotations") or {})]
    ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(served))
    procs = Processes(tmp_path)
    try:
        kc = sa_kubeconfig(cluster, ns, "cut-webhook", tmp_path / "w.kc")
        args = with_flag(container(objects, "cut-webhook")["args"], "--listen",
                         f"127.0.0.1:{free_port()}")
        proc = procs.start("webhook", with_flag(args, "--cert-dir", str(tmp_path / "c")), kc)
        wait_for("the 403 in the log", lambda: "forbidden" in procs.log("webhook").lower(),
                 within=30)
        assert proc.poll() is None  # waiting and retrying, not crashing
        text = procs.log("webhook")
        assert "cannot update resource" in text and "mutatingwebhookconfigurations" in text, text
        config = get_json(cluster, "mutatingwebhookconfiguration", "cut")
        assert "caBundle" not in config["webhooks"][0]["clientConfig"]
    finally:
        procs.stop()
        kubectl(cluster, "delete", "mutatingwebhookconfiguration", "cut", "--ignore-not-found")


def test_people_roles_view_and_edit(cluster: RunningCluster, tmp_path: Path) -> None:
    """canarist-view follows releases and cannot steer them; canarist-edit can."""
    objects = render({"fullnameOverride": "people"}, namespace="people-system")
    roles = [o for o in objects if o["kind"] == "ClusterRole"
             and o["metadata"]["name"] in ("people-view", "people-edit")]
    assert len(roles) == 2
    ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(roles))
    ok(cluster, "create", "namespace", "team")
    ok(cluster, "-n", "team", "create", "deployment", "api", "--image=demo:v1")
    ok(cluster, "-n", "team", "label", "deployment", "api", "canarist.io/enabled=true")
    ok(cluster, "-n", "team", "annotate", "deployment", "api", 'canarist.io/status={"phase": '
       '"Paused", "step": 1, "steps": 2, "weight": 50, "stableHash": "a", "canaryHash": "b"}')
    results = {}
    for who in ("viewer", "editor"):
        ok(cluster, "-n", "team", "create", "serviceaccount", who)
        role = "people-view" if who == "viewer" else "people-edit"
        ok(cluster, "-n", "team", "create", "rolebinding", who, f"--clusterrole={role}",
           f"--serviceaccount=team:{who}")
        kc = sa_kubeconfig(cluster, "team", who, tmp_path / f"{who}.kc")
        for command in ("status", "promote"):
            out = subprocess.run([sys.executable, "-m", "webhook.cli", command, "api", "-n",
                                  "team", "--kubeconfig", str(kc)], capture_output=True,
                                 text=True, timeout=60, check=False)
            results[(who, command)] = (out.returncode, out.stderr)
    assert results[("viewer", "status")][0] == 0, results
    assert results[("editor", "status")][0] == 0, results
    code, err = results[("viewer", "promote")]
    assert code == 1 and "forbidden" in err and 'cannot patch resource "deployments"' in err
    assert results[("editor", "promote")][0] == 0, results
    action = get_json(cluster, "deployment", "api", "-n", "team")["metadata"]["annotations"]
    assert action["canarist.io/action"] == "promote"
