"""The Deployment controller's loop on the in-process API, one sync at a time: caches filled from
the API by hand and no other controller running, so the interleaving under test is fixed."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import pytest

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.deployment_loop import DeploymentController
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.workqueue import Retry

NS = "default"
DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"
RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


def pod_template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image}]}}


async def replicaset(api: ClusterAPI, d: dict[str, Any], image: str, pod_hash: str,
                     revision: int, spec: int, status: tuple[int, int]) -> str:
    """An RS of ``d`` at ``spec`` replicas whose status reports (replicas, available)."""
    name = f"web-{pod_hash}"
    tmpl = pod_template(image)
    tmpl["metadata"]["labels"]["pod-template-hash"] = pod_hash
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
             "uid": d["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    rs = await api.create(REPLICASETS, NS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": dict(tmpl["metadata"]["labels"]),
                     "ownerReferences": [owner],
                     "annotations": {"deployment.kubernetes.io/revision": str(revision),
                                     "deployment.kubernetes.io/desired-replicas": "4",
                                     "deployment.kubernetes.io/max-replicas": "5"}},
        "spec": {"replicas": spec, "selector": {"matchLabels": dict(tmpl["metadata"]["labels"])},
                 "template": tmpl},
    })
    await set_status(api, rs, status)
    return name


async def set_status(api: ClusterAPI, rs: dict[str, Any], status: tuple[int, int]) -> None:
    body = copy.deepcopy(rs)
    replicas, available = status
    body["status"] = {"replicas": replicas, "fullyLabeledReplicas": replicas,
                      "readyReplicas": available, "availableReplicas": available,
                      "observedGeneration": rs["metadata"]["generation"]}
    await api.update(REPLICASETS, NS, body, subresource="status", user=RS_CONTROLLER)


async def refresh(api: ClusterAPI, informers: Informers) -> None:
    """What the watch would have delivered by now."""
    for inf in informers.all():
        inf.replace((await api.list(inf.resource))[0])


async def sizes(api: ClusterAPI) -> dict[str, int]:
    items, _ = await api.list(REPLICASETS, NS)
    return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in items}


async def scaling_events(api: ClusterAPI) -> list[str]:
    """The ``ScalingReplicaSet`` messages, once the recorder's writes have landed."""
    deadline = time.monotonic() + 3
    while True:
        items, _ = await api.list("events", NS)
        if items or time.monotonic() > deadline:
            return [e["message"] for e in items if e["reason"] == "ScalingReplicaSet"]
        await asyncio.sleep(0.01)


async def mid_rollout(
    old: tuple[int, tuple[int, int]], new: tuple[int, tuple[int, int]]
) -> tuple[ClusterAPI, Informers, DeploymentController, str, str]:
    """A Deployment of 4 replicas (maxSurge 1, maxUnavailable 1) rolling demo:v1 -> demo:v2,
    its old and new ReplicaSets at (spec replicas, (status replicas, available)), and its
    controller with informers that have seen them."""
    api = ClusterAPI()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    d = await api.create(DEPLOYMENTS, NS, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": strategy, "template": pod_template("demo:v2")},
    })
    old_rs = await replicaset(api, d, "demo:v1", "aaaaaaaaa", 1, *old)
    new_rs = await replicaset(api, d, "demo:v2", "bbbbbbbbb", 2, *new)
    informers = Informers(api)
    controller = DeploymentController(api, informers, time.time)
    await refresh(api, informers)
    return api, informers, controller, old_rs, new_rs


async def test_a_sync_never_scales_an_old_replica_set_up_while_its_status_lags_behind_spec():
    """rolling.go: mid-rollout (4 replicas, maxSurge 1, maxUnavailable 1) the old RS was just
    scaled 3 -> 2 and its status still counts 3 available pods. cleanupUnhealthyReplicas fails
    the sync instead of writing the old RS back to 3 (6 > replicas + maxSurge); once the
    ReplicaSet controller has caught up, the rollout goes on."""
    api, informers, controller, old, new = await mid_rollout(old=(2, (3, 3)), new=(3, (3, 2)))

    with pytest.raises(Retry):
        await controller.sync((NS, "web"))
    assert await sizes(api) == {old: 2, new: 3}

    # The ReplicaSet controller deleted the surplus pod: one more old pod may go.
    await set_status(api, await api.get(REPLICASETS, NS, old), (2, 2))
    await refresh(api, informers)
    await controller.sync((NS, "web"))
    assert await sizes(api) == {old: 1, new: 3}
    assert await scaling_events(api) == [f"Scaled down replica set {old} from 2 to 1"]


async def test_clean_up_then_scale_down_of_one_replica_set_take_a_single_sync():
    """rolling.go reconcileOldReplicaSets: cleanupUnhealthyReplicas then
    scaleDownOldReplicaSetsForRollingUpdate work on the RS as the first write left it, so both
    land in one sync (4 replicas, maxSurge 1, maxUnavailable 1; old 3 with 2 available, new 2
    with 2 available: the unhealthy pod goes, then one more old pod)."""
    api, _, controller, old, new = await mid_rollout(old=(3, (3, 2)), new=(2, (2, 2)))

    await controller.sync((NS, "web"))  # no Retry: the second write is not a conflict
    assert await sizes(api) == {old: 1, new: 2}
