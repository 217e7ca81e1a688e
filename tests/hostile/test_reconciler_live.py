"""The reconciler on the embedded cluster (no webhook in front, so hostile annotations reach the
cluster) keeps adopting the other Deployments and says what is wrong with the hostile one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.hostile.cases import HOSTILE
from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef
from webhook.release.loop import LoopOptions, Reconciler
from webhook.spec import ReleaseStatus
from webhook.spec.names import STATUS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def deployment(ns: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"canarist.io/enabled": "true"},
                     "annotations": annotations},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                                       "ports": [{"containerPort": 8080}]}]}}},
    }


def service(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


@pytest.mark.parametrize("case", ["steps--alias-bomb.yaml", "steps--nan-pause.yaml"])
async def test_a_hostile_deployment_does_not_stop_the_reconciler(
    embedded_cluster: RunningCluster, case: str
) -> None:
    ns = f"hostile-rec{case.split('--')[1].split('.', maxsplit=1)[0]}"
    opts = ClientOptions(kubeconfig=str(embedded_cluster.kubeconfig), namespace=ns)
    async with connect(opts) as client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for name in ("evil", "good"):
            await client.create(service(ns, name))
        steps = (HOSTILE / case).read_text()
        await client.create(deployment(ns, "evil", {"canarist.io/steps": steps}))
        await client.create(deployment(ns, "good", {"canarist.io/steps": "- setWeight: 50\n"}))
        stop = asyncio.Event()
        task = asyncio.create_task(
            Reconciler(client, LoopOptions(namespace=ns, resync=3600)).run(stop))
        try:
            good = await status_of(client, ns, "good", lambda s: s.phase is not None)
            evil = await status_of(client, ns, "evil", lambda s: bool(s.message))
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
    assert good.phase is not None
    assert "invalid canarist annotations" in evil.message
    assert "canarist.io/steps" in evil.message


async def status_of(client: Any, ns: str, name: str, done: Any,
                    within: float = 30.0) -> ReleaseStatus:
    end = time.monotonic() + within
    status = ReleaseStatus()
    while time.monotonic() < end:
        obj = await client.get(ObjectRef("apps/v1", "Deployment", ns, name))
        status = ReleaseStatus.from_json((obj["metadata"].get("annotations") or {}).get(STATUS))
        if done(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}: no status in {within}s: {status.to_dict()}")
