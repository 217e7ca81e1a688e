"""Issue 3's speed bar: 100 Deployments x 3 replicas created and all Available in < 30 s on a
2-core machine — with a readinessProbe on every pod, so the kubelet really probes 300 servers.
(``scripts/bench/cluster.py`` reports the figure; this only guards the bar.)"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.cluster.workloads import running_workloads
from webhook.cluster.api import ClusterAPI

pytestmark = pytest.mark.slow


def deployment(i: int) -> dict[str, Any]:
    labels = {"app": f"app{i}"}
    container = {"name": "app", "image": "demo:v1",
                 "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                    "periodSeconds": 1}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app{i}"},
            "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container]}}}}


async def test_100_deployments_of_3_replicas_are_available_within_30_seconds():
    api = ClusterAPI()
    async with running_workloads(api):
        started = time.monotonic()
        for i in range(100):
            await api.create("deployments.apps", "default", deployment(i))
        available = 0
        while time.monotonic() - started < 30:
            items, _ = await api.list("deployments.apps", "default")
            available = sum(1 for d in items
                            if (d.get("status") or {}).get("availableReplicas") == 3)
            if available == 100:
                break
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        assert available == 100, f"only {available}/100 available after {elapsed:.1f} s"
        pods, _ = await api.list("pods", "default")
        assert len(pods) == 300
        assert len({p["status"]["podIP"] for p in pods}) == 300
