"""The status guard on the embedded cluster: its API server calls canarist's webhook (rules on
``deployments`` and ``deployments/status``) with the requester in ``userInfo``; the webhook
trusts the reconciler's user, which is the admin user there (the reconciler runs with the
cluster's admin kubeconfig). Other users are the in-process API's ``user=``, or kubectl
impersonating one (``--as alice``, allowed by a ClusterRoleBinding)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.cluster.webhook_component import RECONCILER_USER
from webhook.errors import APIStatusError
from webhook.spec.hashing import template_hash
from webhook.spec.names import STATUS

DEPLOYMENTS = "deployments.apps"
NS = "guarded"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    running = start_in_thread(without=frozenset({"reconciler", "kubelet"}))
    try:
        running.call(running.api.create("namespaces", None, {"metadata": {"name": NS}}))
        yield running
    finally:
        running.stop()


def manifest(name: str, image: str = "demo:v1") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"canarist.io/enabled": "true"},
                     "annotations": {"canarist.io/steps": "- setWeight: 20\n- pause: {}\n"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def get(cluster: RunningCluster, name: str) -> dict[str, Any]:
    return cluster.call(cluster.api.get(DEPLOYMENTS, NS, name))


def status(obj: dict[str, Any]) -> dict[str, Any] | None:
    text = obj["metadata"].get("annotations", {}).get(STATUS)
    return None if text is None else json.loads(text)


def update_as(cluster: RunningCluster, user: str, name: str,
              change: Callable[[dict[str, Any]], None], warnings: list[str]) -> dict[str, Any]:
    """Get, change, update as ``user``; again on a conflict (the Deployment controller writes
    the status meanwhile)."""
    for _ in range(20):
        obj = get(cluster, name)
        change(obj)
        try:
            return cluster.call(cluster.api.update(DEPLOYMENTS, NS, obj, user=user,
                                                   warnings=warnings))
        except APIStatusError as exc:
            if exc.status != 409:
                raise
    raise AssertionError("conflicts all along")


def reconciler_writes_status(cluster: RunningCluster, name: str, value: dict[str, Any]) -> None:
    """As the reconciler does: a merge patch of the annotation through ``/status``."""
    patch = {"metadata": {"annotations": {STATUS: json.dumps(value)}}}
    cluster.call(cluster.api.patch(DEPLOYMENTS, NS, name, patch, "merge", subresource="status",
                                   user=RECONCILER_USER))


def test_the_reconcilers_user_is_the_admin_and_its_status_writes_stick(
    cluster: RunningCluster,
) -> None:
    cluster.call(cluster.api.create(DEPLOYMENTS, NS, manifest("web")))
    digest = template_hash(get(cluster, "web")["spec"]["template"])
    healthy = {"phase": "Healthy", "stableHash": digest, "canaryHash": digest}
    reconciler_writes_status(cluster, "web", healthy)
    assert status(get(cluster, "web")) == healthy


def test_another_user_cannot_forge_the_status_to_skip_the_canary(cluster: RunningCluster) -> None:
    cluster.call(cluster.api.create(DEPLOYMENTS, NS, manifest("forge")))
    digest = template_hash(get(cluster, "forge")["spec"]["template"])
    healthy = {"phase": "Healthy", "stableHash": digest, "canaryHash": digest}
    reconciler_writes_status(cluster, "forge", healthy)

    def forge(new: dict[str, Any]) -> None:
        new["spec"]["template"]["spec"]["containers"][0]["image"] = "demo:v2"
        new_hash = template_hash(new["spec"]["template"])
        new["metadata"]["annotations"][STATUS] = json.dumps(
            {"phase": "Healthy", "stableHash": new_hash, "canaryHash": new_hash})

    warnings: list[str] = []
    stored = update_as(cluster, "mallory", "forge", forge, warnings)
    assert stored["spec"]["paused"] is True  # held for canary steps, not rolled out
    assert status(stored)["stableHash"] == digest  # type: ignore[index]
    assert any("the change by mallory was undone" in w for w in warnings)


def test_the_status_subresource_is_guarded(cluster: RunningCluster) -> None:
    cluster.call(cluster.api.create(DEPLOYMENTS, NS, manifest("sub")))
    digest = template_hash(get(cluster, "sub")["spec"]["template"])
    healthy = {"phase": "Healthy", "stableHash": digest, "canaryHash": digest}
    reconciler_writes_status(cluster, "sub", healthy)
    warnings: list[str] = []
    patch = {"metadata": {"annotations": {STATUS: json.dumps({"phase": "Healthy",
                                                               "stableHash": "forged"})}}}
    cluster.call(cluster.api.patch(DEPLOYMENTS, NS, "sub", patch, "merge", subresource="status",
                                   user="mallory", warnings=warnings))
    assert status(get(cluster, "sub")) == healthy
    assert any("undone" in w for w in warnings)


def test_an_export_applied_mid_release_does_not_write_back_the_old_status(
    cluster: RunningCluster,
) -> None:
    cluster.call(cluster.api.create(DEPLOYMENTS, NS, manifest("export")))
    digest = template_hash(get(cluster, "export")["spec"]["template"])
    reconciler_writes_status(cluster, "export", {"phase": "Healthy", "stableHash": digest,
                                                 "canaryHash": digest})
    exported = get(cluster, "export")  # kubectl get -o yaml, before the release moves on
    mid = {"phase": "Paused", "stableHash": digest, "canaryHash": "bcdfghjklm", "step": 1,
           "weight": 20}
    reconciler_writes_status(cluster, "export", mid)
    exported["metadata"].pop("resourceVersion")  # as kubectl apply of the file sends it
    cluster.call(cluster.api.update(DEPLOYMENTS, NS, exported, user="alice"))
    assert status(get(cluster, "export")) == mid


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
                          capture_output=True, text=True, input=stdin, timeout=60, check=False)


def test_kubectl_apply_of_an_export_by_another_user_keeps_the_status(
    cluster: RunningCluster,
) -> None:
    cluster.call(cluster.api.create(
        "clusterrolebindings.rbac.authorization.k8s.io", None, {
            "metadata": {"name": "guard-alice"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": "alice"}]}))
    cluster.call(cluster.api.create(DEPLOYMENTS, NS, manifest("kubectl")))
    digest = template_hash(get(cluster, "kubectl")["spec"]["template"])
    reconciler_writes_status(cluster, "kubectl", {"phase": "Healthy", "stableHash": digest,
                                                  "canaryHash": digest})
    exported = kubectl(cluster, "get", "deploy", "kubectl", "-n", NS, "-o", "yaml")
    assert exported.returncode == 0, exported.stderr
    mid = {"phase": "Paused", "stableHash": digest, "canaryHash": "bcdfghjklm", "step": 1,
           "weight": 20}
    reconciler_writes_status(cluster, "kubectl", mid)
    text = "\n".join(line for line in exported.stdout.splitlines()
                     if "resourceVersion:" not in line)
    applied = kubectl(cluster, "--as", "alice", "apply", "-f", "-", stdin=text)
    assert applied.returncode == 0, applied.stderr
    assert "the change by alice was undone" in applied.stderr
    assert status(get(cluster, "kubectl")) == mid
    # the same apply by the trusted user (the admin, the reconciler's user in canarist up) counts
    assert kubectl(cluster, "apply", "-f", "-", stdin=text).returncode == 0
    assert status(get(cluster, "kubectl"))["phase"] == "Healthy"  # type: ignore[index]
