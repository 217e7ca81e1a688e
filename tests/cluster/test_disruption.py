"""PodDisruptionBudgets on the whole embedded cluster (controllers and kubelet): the status the
disruption controller keeps, and evictions through ``pods/eviction`` with the official client
(as ``kubectl drain`` sends them), refused with upstream's 429 while the budget allows none."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.cluster.conftest import deployment, kubectl, until
from webhook.cluster.controllers import disruption as dis
from webhook.cluster.runtime import RunningCluster

PDBS = "poddisruptionbudgets.policy"
_ids = itertools.count()


@pytest.fixture
def ns(embedded_cluster: RunningCluster) -> str:
    name = f"pdb{next(_ids)}"
    out = kubectl(embedded_cluster, "create", "namespace", name)
    assert out.returncode == 0, out.stderr
    return name


@pytest.fixture
def core(embedded_cluster: RunningCluster) -> Any:
    client = k8s_config.new_client_from_config(config_file=str(embedded_cluster.kubeconfig))
    yield k8s.CoreV1Api(client)
    client.close()


def ready_pods(cluster: RunningCluster, ns: str, app: str) -> list[dict[str, Any]]:
    pods, _ = cluster.call(cluster.api.list("pods", ns, label_selector=f"app={app}"))
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (p.get("status") or {}).get("conditions") or [])]


def status(cluster: RunningCluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.call(cluster.api.get(PDBS, ns, name)).get("status") or {}


def settled(cluster: RunningCluster, ns: str, name: str, **want: Any) -> Callable[[], bool]:
    def check() -> bool:
        got = status(cluster, ns, name)
        return all(got.get(k) == v for k, v in want.items())
    return check


def start_web(cluster: RunningCluster, ns: str, replicas: int = 3, **env: str) -> None:
    body = deployment("web", replicas=replicas)
    if env:  # a slow app: unready to its readiness probe
        container = body["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080},
                                       "periodSeconds": 1}
    cluster.call(cluster.api.create("deployments.apps", ns, body))
    if not env:
        until(lambda: len(ready_pods(cluster, ns, "web")) == replicas, "ready pods", 60)


def evict(core: Any, ns: str, pod: str, **options: Any) -> tuple[int, dict[str, Any]]:
    body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name=pod, namespace=ns),
                          delete_options=k8s.V1DeleteOptions(**options) if options else None)
    try:
        core.create_namespaced_pod_eviction(pod, ns, body)
    except ApiException as exc:
        return int(exc.status or 0), json.loads(exc.body or "{}")
    return 201, {}


def test_status_of_a_min_available_budget(embedded_cluster: RunningCluster, ns: str) -> None:
    start_web(embedded_cluster, ns)
    out = kubectl(embedded_cluster, "-n", ns, "create", "pdb", "web", "--selector=app=web",
                  "--min-available=2")
    assert out.returncode == 0 and out.stdout.strip() == \
        "poddisruptionbudget.policy/web created", out.stderr
    until(settled(embedded_cluster, ns, "web", expectedPods=3, desiredHealthy=2,
                  currentHealthy=3, disruptionsAllowed=1, observedGeneration=1),
          "the budget's status")
    cond = status(embedded_cluster, ns, "web")["conditions"]
    assert [(c["type"], c["status"], c["reason"], c["message"], c["observedGeneration"])
            for c in cond] == [("DisruptionAllowed", "True", "SufficientPods", "", 1)]
    table = kubectl(embedded_cluster, "-n", ns, "get", "pdb").stdout.splitlines()
    assert table[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                "DISRUPTIONS", "AGE"]
    assert table[1].split()[:4] == ["web", "2", "N/A", "1"]


def bare_pods(cluster: RunningCluster, ns: str, *names: str) -> None:
    """Pods no controller replaces, so what an eviction takes stays taken."""
    for name in names:
        cluster.call(cluster.api.create("pods", ns, {
            "metadata": {"name": name, "labels": {"app": "solo"}},
            "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                     "ports": [{"containerPort": 8080}]}]}}))
    until(lambda: len(ready_pods(cluster, ns, "solo")) >= len(names), "ready pods", 60)


def test_eviction_honours_the_budget(embedded_cluster: RunningCluster, ns: str,
                                     core: Any) -> None:
    bare_pods(embedded_cluster, ns, "a", "b", "c")
    embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
        "metadata": {"name": "solo"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "solo"}}}}))
    until(settled(embedded_cluster, ns, "solo", expectedPods=3, desiredHealthy=1,
                  disruptionsAllowed=2), "the budget's status")
    assert evict(core, ns, "a", dry_run=["All"]) == (201, {})
    assert status(embedded_cluster, ns, "solo")["disruptionsAllowed"] == 2  # a dry run
    assert evict(core, ns, "a") == (201, {})
    left = embedded_cluster.call(embedded_cluster.api.list("pods", ns))[0]
    evicted = next((p for p in left if p["metadata"]["name"] == "a"), None)
    if evicted is not None:  # still terminating
        assert evicted["metadata"]["deletionTimestamp"]
        assert any(c["type"] == "DisruptionTarget" and c["reason"] == "EvictionByEvictionAPI"
                   and c["message"] == "Eviction API: evicting"
                   for c in evicted["status"]["conditions"])
    assert evict(core, ns, "b") == (201, {})
    code, body = evict(core, ns, "c")
    assert code == 429, body
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["reason"] == "TooManyRequests"
    cause = body["details"]["causes"][0]
    assert cause["reason"] == "DisruptionBudget"
    assert re.fullmatch(r"The disruption budget solo needs 1 healthy pods and has [12] "
                        r"currently", cause["message"]), cause
    assert embedded_cluster.call(embedded_cluster.api.get("pods", ns, "c"))  # still there
    bare_pods(embedded_cluster, ns, "d")
    until(settled(embedded_cluster, ns, "solo", currentHealthy=2, disruptionsAllowed=1),
          "the budget with one more pod")
    assert evict(core, ns, "c") == (201, {})


def test_max_unavailable_counts_the_controller_scale(embedded_cluster: RunningCluster,
                                                    ns: str) -> None:
    start_web(embedded_cluster, ns)
    embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
        "metadata": {"name": "web"},
        "spec": {"maxUnavailable": "34%", "selector": {"matchLabels": {"app": "web"}}}}))
    until(settled(embedded_cluster, ns, "web", expectedPods=3, desiredHealthy=1,
                  currentHealthy=3, disruptionsAllowed=2),
          "the budget's status (3 replicas, 34% rounded up: 2 may go)")
    embedded_cluster.call(embedded_cluster.api.patch(
        "deployments.apps", ns, "web", {"spec": {"replicas": 5}}, "merge"))
    until(settled(embedded_cluster, ns, "web", expectedPods=5, desiredHealthy=3),
          "the budget following the Deployment's scale", 60)


def test_drain_style_evictions_keep_the_minimum(embedded_cluster: RunningCluster, ns: str,
                                                core: Any) -> None:
    """What ``kubectl drain`` does: evict every pod, retrying each 429 until it goes."""
    start_web(embedded_cluster, ns)
    embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}))
    until(settled(embedded_cluster, ns, "web", disruptionsAllowed=1), "the budget's status")
    original = [p["metadata"]["name"] for p in ready_pods(embedded_cluster, ns, "web")]
    refused = 0
    deadline = time.monotonic() + 90
    for name in original:
        while True:
            code, _ = evict(core, ns, name)
            if code == 201:
                break
            assert code == 429 and time.monotonic() < deadline
            refused += 1
            assert len(ready_pods(embedded_cluster, ns, "web")) >= 2
            time.sleep(0.2)
    assert refused > 0  # the budget held some of them back
    until(lambda: not {p["metadata"]["name"] for p in ready_pods(embedded_cluster, ns, "web")}
          & set(original) and len(ready_pods(embedded_cluster, ns, "web")) == 3,
          "all pods replaced", 60)


def test_unhealthy_pods_and_the_eviction_policy(embedded_cluster: RunningCluster, ns: str,
                                                core: Any) -> None:
    start_web(embedded_cluster, ns, replicas=2, DEMO_READY_AFTER_S="600")
    until(lambda: len(embedded_cluster.call(embedded_cluster.api.list(
        "pods", ns, label_selector="app=web"))[0]) == 2, "two (unready) pods")
    embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}))
    until(settled(embedded_cluster, ns, "web", currentHealthy=0, desiredHealthy=1,
                  disruptionsAllowed=0), "the budget's status")
    cond = status(embedded_cluster, ns, "web")["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
    pods = embedded_cluster.call(embedded_cluster.api.list("pods", ns,
                                                           label_selector="app=web"))[0]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    if running:  # an unready Running pod is guarded by a budget that is not met
        code, body = evict(core, ns, running[0]["metadata"]["name"])
        assert code == 429, body
    embedded_cluster.call(embedded_cluster.api.patch(
        PDBS, ns, "web", {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}}, "merge"))
    assert evict(core, ns, pods[0]["metadata"]["name"]) == (201, {})


def test_two_budgets_for_one_pod_and_a_budget_without_scale(
        embedded_cluster: RunningCluster, ns: str, core: Any) -> None:
    start_web(embedded_cluster, ns, replicas=1)
    for name in ("a", "b"):
        embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
            "metadata": {"name": name},
            "spec": {"minAvailable": 0, "selector": {"matchLabels": {"app": "web"}}}}))
    pod = ready_pods(embedded_cluster, ns, "web")[0]["metadata"]["name"]
    code, body = evict(core, ns, pod)
    assert code == 500 and body["message"] == dis.MULTIPLE
    # a Job has no scale the disruption controller knows: a percentage cannot be worked out
    embedded_cluster.call(embedded_cluster.api.create("jobs.batch", ns, {
        "metadata": {"name": "batch"}, "spec": {"template": {
            "metadata": {"labels": {"role": "batch"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "demo:v1"}]}}}}))
    embedded_cluster.call(embedded_cluster.api.create(PDBS, ns, {
        "metadata": {"name": "batch"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"role": "batch"}}}}))

    def sync_failed() -> dict[str, Any] | None:
        conds = status(embedded_cluster, ns, "batch").get("conditions") or []
        return next((c for c in conds if c["reason"] == "SyncFailed"), None)

    cond = until(sync_failed, "SyncFailed for a pod whose controller has no scale")
    assert cond["status"] == "False"
    assert re.fullmatch(r'found no controllers for pod "batch-\w+"', cond["message"]), cond
    assert status(embedded_cluster, ns, "batch")["disruptionsAllowed"] == 0


def test_budget_validation(embedded_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(embedded_cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "bad"},
        "spec": {"minAvailable": "150%", "unhealthyPodEvictionPolicy": "Sometimes"}}))
    assert out.returncode != 0
    assert 'spec.minAvailable: Invalid value: "150%": must not be greater than 100%' \
        in out.stderr
    assert ('spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported '
            'values: "AlwaysAllow", "IfHealthyBudget"') in out.stderr
