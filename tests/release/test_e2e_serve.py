"""``canarist reconcile`` as a service: leader election hands a release over, metrics serve."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import ObjectRef
from webhook.release.loop import LoopOptions
from webhook.release.metrics import Metrics
from webhook.release.serve import LEASE_NAME, ServeOptions, run, serve_metrics
from webhook.spec import Phase, ReleaseStatus

from .e2e import harness

pytestmark = pytest.mark.slow

STEPS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {duration: 1s}\n"


async def test_a_second_replica_takes_over_when_the_leader_stops(
    release_cluster: RunningCluster,
) -> None:
    annotations = {"canarist.io/traffic-router": "proxy", "canarist.io/steps": STEPS,
                   "canarist.io/scale-down-delay": "1s"}  # the old pods stay 1 s, not 30
    async with harness(release_cluster, annotations, start=False) as h:

        def options(identity: str) -> ServeOptions:
            return ServeOptions(
                loop=LoopOptions(namespace=h.ns),
                leader_elect=True,
                lease_namespace=h.ns,
                identity=identity,
            )

        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(run(h.client, options("replica-a"), stop_a))
        await h.wait("adopted", lambda s, d: s.phase == Phase.HEALTHY)
        b = asyncio.create_task(run(h.client, options("replica-b"), stop_b))
        lease = await h.client.get(ObjectRef("coordination.k8s.io/v1", "Lease", h.ns, LEASE_NAME))
        assert lease is not None and lease["spec"]["holderIdentity"] == "replica-a"

        await h.set_version("v2")
        await h.wait("weight 20", lambda s, d: s.step == 1 and s.weight == 20)
        stop_a.set()  # the leader goes away and gives the Lease up
        await asyncio.wait_for(a, 10)
        await h.annotate("promote")
        status = await h.wait(
            "promoted by b",
            lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == s.canary_hash,
            within=30,
        )
        assert status.weight == 0
        lease = await h.client.get(ObjectRef("coordination.k8s.io/v1", "Lease", h.ns, LEASE_NAME))
        assert lease is not None and lease["spec"]["holderIdentity"] == "replica-b"
        stop_b.set()
        await asyncio.wait_for(b, 10)


async def test_metrics_endpoint() -> None:
    metrics = Metrics()
    metrics.set_release(
        "shop", "web", ReleaseStatus(phase=Phase.PAUSED, step=1, steps=4, weight=20)
    )
    metrics.duration.observe(0.004)
    metrics.results["ok"] += 1
    runner = await serve_metrics(metrics, "127.0.0.1:0")
    try:
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
            async with session.get(f"http://{host}:{port}/healthz") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()
    assert 'canarist_release_phase{namespace="shop",deployment="web",phase="Paused"} 1' in text
    assert 'canarist_release_phase{namespace="shop",deployment="web",phase="Healthy"} 0' in text
    assert 'canarist_release_weight{namespace="shop",deployment="web"} 20' in text
    assert 'canarist_reconcile_duration_seconds_bucket{le="0.005"} 1' in text
    assert 'canarist_reconcile_total{result="ok"} 1' in text


async def test_the_embedded_cluster_runs_the_reconciler() -> None:
    """``canarist up``'s cluster releases a Deployment with no other reconciler around."""
    from webhook.cluster.runtime import start_in_thread

    cluster = await asyncio.to_thread(start_in_thread)
    try:
        assert "reconciler" in cluster.cluster.started
        annotations = {
            "canarist.io/traffic-router": "proxy",
            "canarist.io/steps": "- setWeight: 50\n- pause: {}\n",
            "canarist.io/scale-down-delay": "0",
        }
        async with harness(cluster, annotations, start=False) as h:
            await h.wait("adopted", lambda s, d: s.phase == Phase.HEALTHY)
            await h.set_version("v2")
            await h.wait("weight 50", lambda s, d: s.weight == 50 and s.phase == Phase.PAUSED)
            await h.annotate("promote")
            await h.wait(
                "promoted",
                lambda s, d: (
                    s.phase == Phase.HEALTHY and s.weight == 0 and s.stable_hash == s.canary_hash
                ),
                within=30,
            )
    finally:
        await asyncio.to_thread(cluster.stop)
