"""The chart's roles hold exactly what its components use, shown on the embedded API server with
RBAC enforced: the chart's ServiceAccounts, roles and webhook configuration are applied, then
``canarist webhook``, two ``canarist reconcile`` and ``canarist proxy`` run as processes with
the chart's own arguments, each authenticated with its ServiceAccount's token. An opted-in
Deployment is held by the webhook (through its Service), released by the reconciler through
NGINX and the proxy router, promoted; the webhook renews its serving pair meanwhile. The API
server's authorization decisions are recorded: nothing was denied, and every rule of every role
was the only one to allow some request, so removing any rule would have failed the run. Then a
rule is removed for real and the component is seen failing with the API server's 403."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.live import (
    APP,
    Audit,
    get_json,
    kubectl,
    ok,
    sa_kubeconfig,
    sa_user,
    status_of,
    unexercised,
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
    "every-namespace": (NAMESPACE, "shop", {"policies": [
        {"name": "labelled", "namespaceSelector": {"matchLabels": {"canary": "yes"}}}]}),
    "one-namespace": ("canarist-shop", "shop2", {"clusterInstall": False,
                                                  "watchNamespace": "shop2",
                                                  "fullnameOverride": "shopcan"}),
}
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
    proxy = sa_user(ns, f"{full}-proxy")
    audit = Audit({webhook, reconciler, proxy})
    cluster.api.auth.observers.append(audit)
    objects = render({**VALUES, **extra}, namespace=ns)
    ok(cluster, "create", "namespace", ns)
    ok(cluster, "create", "namespace", app)
    served = [o for o in objects if o["kind"] in SERVED
              and "helm.sh/hook" not in (o["metadata"].get("annotations") or {})]
    ok(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(served))
    # The Deployments exist (the Lease's owner), with no pods: the processes below are them.
    for name in (f"{full}-webhook", f"{full}-reconciler", f"{full}-proxy"):
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
        args = with_flag([a for a in container(objects, f"{full}-proxy")["args"]
                          if a != "--cluster"], "--listen", f"127.0.0.1:{free_port()}")
        procs.start("proxy", with_flag(args, "--admin-listen", f"127.0.0.1:{free_port()}"),
                    proxy_kc)
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
        promote = subprocess.run([sys.executable, "-m", "webhook.cli", "promote", "web", "-n",
                                  app, "--kubeconfig", str(cluster.kubeconfig)],
                                 capture_output=True, text=True, timeout=60, check=False)
        assert promote.returncode == 0, promote.stderr
        wait_for("Healthy", lambda: status_of(cluster, app).get("phase") == "Healthy",
                 within=60)
        wait_for("the canary gone", lambda: kubectl(
            cluster, "-n", app, "get", "deployment", "web-canary").returncode != 0,
                 within=30)
        wait_for("a renewed serving pair", lambda: get_json(
            cluster, "secret", f"{full}-webhook-tls", "-n", ns)["data"][
                "tls.crt"] != first_pair, within=30)
        time.sleep(2)  # a few more renewals of the Lease and checks of the Secret

        for user in (webhook, reconciler, proxy):
            assert audit.denied(user) == [], user
            assert unexercised(audit, objects, user) == [], user
        lease = get_json(cluster, "lease", f"{full}-reconciler", "-n", ns)
        assert lease["metadata"]["ownerReferences"][0]["name"] == f"{full}-reconciler"
        assert lease["spec"]["holderIdentity"]
    finally:
        procs.stop()
        kubectl(cluster, "delete", "mutatingwebhookconfiguration", "cut", "--ignore-not-found")
        cluster.api.auth.observers.remove(audit)
        kubectl(cluster, "delete", "mutatingwebhookconfiguration", full, "--ignore-not-found")


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
