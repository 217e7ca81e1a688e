"""``canarist up``'s reconciler and proxy run as their own ServiceAccounts: the ClusterRoles they
get are the Helm chart's (rendered with every router enabled), and a whole release on the
embedded cluster goes through with the API server denying them nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.chart.live import APP, Audit, get_json, kubectl, ok, status_of
from tests.chart.render import find, render
from webhook.cluster.identities import NAMESPACE, PROXY, RECONCILER, RECONCILER_RULES
from webhook.cluster.proxy_component import ProxySettings
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.cluster.webhook_component import RECONCILER_USER

EVERY_ROUTER = {"reconciler": {"routers": {"ingress": True, "istio": True, "gatewayApi": True,
                                           "smi": True, "proxy": True},
                               "analysis": {"datadog": True}},
                "proxy": {"enabled": True}}


def test_the_cluster_roles_are_the_charts_with_every_router() -> None:
    objects = render(EVERY_ROUTER, namespace=NAMESPACE)
    for identity in (RECONCILER, PROXY):
        role = find(objects, "ClusterRole", identity.name)
        # (the reconciler also follows cluster policies: identities.POLICY_RULES)
        chart_rules = RECONCILER_RULES if identity is RECONCILER else identity.rules
        assert role["rules"] == [dict(r) for r in chart_rules], identity.name
        binding = find(objects, "ClusterRoleBinding", identity.name)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": identity.name,
                                        "namespace": NAMESPACE}]
    webhook = find(objects, "Deployment", "canarist-webhook")
    args = webhook["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--trusted-user={RECONCILER.user}" in args
    assert RECONCILER_USER == RECONCILER.user == (
        "system:serviceaccount:canarist-system:canarist-reconciler")


@pytest.fixture(scope="module")
def up() -> Iterator[tuple[RunningCluster, Audit]]:
    audit = Audit({RECONCILER.user, PROXY.user})
    cluster = start_in_thread(lambda c: c.api.auth.observers.append(audit),
                              proxy=ProxySettings())
    try:
        yield cluster, audit
    finally:
        cluster.stop()


def wait_status(cluster: RunningCluster, what: str, check: Any,
                within: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + within
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = status_of(cluster, "shop")
        if check(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {within} s; status {status}")


@pytest.mark.slow
def test_a_release_on_up_is_made_by_the_service_accounts_and_nothing_is_denied(
    up: tuple[RunningCluster, Audit],
) -> None:
    cluster, audit = up
    ok(cluster, "create", "namespace", "shop")
    ok(cluster, "apply", "-n", "shop", "-f", "-", stdin=APP)
    wait_status(cluster, "adopted", lambda s: s.get("phase") == "Healthy")
    ok(cluster, "-n", "shop", "set", "image", "deploy/web", "app=demo:v2")
    held = wait_status(cluster, "at 50%", lambda s: s.get("weight") == 50
                       and s.get("phase") == "Paused")
    table = get_json(cluster, "configmap", "-n", "shop", "-l", "canarist.io/route-table=true")
    assert table["items"], "the proxy router wrote no route table"
    ok(cluster, "-n", "shop", "annotate", "deploy/web", "canarist.io/action=promote")
    wait_status(cluster, "promoted", lambda s: s.get("phase") == "Healthy"
                and s.get("stableHash") == held["canaryHash"])
    for identity in (RECONCILER, PROXY):
        assert audit.allowed(identity.user), f"{identity.name} made no request"
        assert audit.denied(identity.user) == [], identity.name
    # the reconciler's writes were its own: the status, the canary, the canary Ingress
    writes = {(r.verb, r.combined_resource) for r in audit.allowed(RECONCILER.user)}
    assert {("patch", "deployments"), ("create", "deployments"),
            ("create", "ingresses")} <= writes, writes


def test_the_reconcilers_kubeconfig_is_private_and_not_the_admins(
    up: tuple[RunningCluster, Audit],
) -> None:
    cluster, _ = up
    path = cluster.reconciler_kubeconfig
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    doc = yaml.safe_load(path.read_text())
    assert doc["users"][0]["user"]["token"] != yaml.safe_load(
        cluster.kubeconfig.read_text())["users"][0]["user"]["token"]
    who = kubectl(cluster, "auth", "whoami", "-o", "json", kubeconfig=path)
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == RECONCILER.user
    # RBAC decides what it may do: not everything
    denied = kubectl(cluster, "get", "pods", "-A", kubeconfig=path)
    assert denied.returncode != 0 and "forbidden" in denied.stderr
