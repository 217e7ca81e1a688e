"""The release lifecycle end to end on the embedded cluster (router ``proxy``): the objects at
every step, promotion, abort, promote-full with a slow canary, a restart in a timed pause, a new
revision mid-release, fast rollback, opt-out and deletion."""

from __future__ import annotations

import asyncio
import time

import pytest

from webhook.cluster.runtime import RunningCluster
from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION
from webhook.spec import Phase
from webhook.spec.routetable import ROUTE_TABLE_KEY, parse_route_table

from .e2e import Harness, harness

pytestmark = pytest.mark.slow

STEPS = """
- setWeight: 20
- pause: {duration: 1s}
- setWeight: 50
- pause: {}
"""
PROXY = {
    "canarist.io/traffic-router": "proxy",
    "canarist.io/steps": STEPS,
    "canarist.io/scale-down-delay": "1s",
    "canarist.io/abort-scale-down-delay": "1s",
}


async def route_weight(h: Harness) -> int:
    cm = await h.get("ConfigMap", "web-canarist-routes")
    if cm is None:
        return 0
    return parse_route_table(cm["data"][ROUTE_TABLE_KEY]).routes[0].weight


async def release_to_50(h: Harness) -> tuple[str, str]:
    v1 = (await h.status()).stable_hash
    await h.set_version("v2")
    status = await h.wait("weight 50", lambda s, d: s.step == 3 and s.weight == 50)
    return v1, status.canary_hash


async def test_release_objects_at_every_step_then_promote(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        status = await h.status()
        v1 = status.stable_hash
        assert (status.phase, status.canary_hash) == (Phase.HEALTHY, v1)
        assert await h.selector("web") == {"app": "web"}  # adoption touches nothing

        await h.set_version("v2")
        d = await h.deployment()
        assert d["spec"]["paused"] is True  # held by the webhook
        status = await h.wait("step 1", lambda s, d: s.step == 1 and s.weight == 20)
        v2 = status.canary_hash
        assert status.phase == Phase.PAUSED
        canary = await h.canary()
        assert canary is not None
        assert canary["spec"]["replicas"] == 1
        assert canary["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: v2}
        assert "canarist.io/enabled" not in canary["metadata"]["labels"]
        assert canary["metadata"]["ownerReferences"][0]["name"] == "web"
        assert await h.selector("web") == {"app": "web", HASH_LABEL: v1}
        assert await h.selector("web-canary") == {"app": "web", HASH_LABEL: v2}
        assert await route_weight(h) == 20
        config = await h.get("ConfigMap", "web-canarist-routes")
        assert config is not None
        table = parse_route_table(config["data"][ROUTE_TABLE_KEY])
        assert (table.routes[0].canary_hash, table.routes[0].stable_hash) == (v2, v1)

        status = await h.wait("step 3", lambda s, d: s.step == 3 and s.weight == 50)
        assert status.phase == Phase.PAUSED
        assert (await h.canary() or {})["spec"]["replicas"] == 2
        assert await route_weight(h) == 50

        await h.annotate("promote")
        status = await h.wait(
            "promoted", lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v2, within=30
        )
        d = await h.deployment()
        assert d["spec"]["paused"] is False
        assert "canarist.io/action" not in d["metadata"]["annotations"]
        assert await h.selector("web") == {"app": "web", HASH_LABEL: v2}
        assert await route_weight(h) == 0
        await h.wait_for("canary deleted", lambda: _gone(h))
        assert (d.get("status") or {}).get("updatedReplicas") == 4


async def _gone(h: Harness) -> bool:
    return await h.canary() is None


async def test_abort_then_retry(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        v1, v2 = await release_to_50(h)
        await h.annotate("abort")
        status = await h.wait("aborted", lambda s, d: s.phase == Phase.DEGRADED)
        assert "canarist retry web" in status.message
        await h.wait_for("weight 0", lambda: _weight_is(h, 0))
        assert await h.selector("web-canary") == {"app": "web", HASH_LABEL: v1}
        assert (await h.deployment())["spec"]["paused"] is True
        await h.wait_for("canary scaled away", lambda: _canary_replicas_is(h, 0))
        await h.annotate("retry")
        status = await h.wait("retried", lambda s, d: s.step == 1 and s.weight == 20)
        assert await h.selector("web-canary") == {"app": "web", HASH_LABEL: v2}


async def _weight_is(h: Harness, weight: int) -> bool:
    return await route_weight(h) == weight


async def _canary_replicas_is(h: Harness, replicas: int) -> bool:
    canary = await h.canary()
    return canary is not None and canary["spec"]["replicas"] == replicas


async def test_promote_full_waits_for_a_slow_canary(release_cluster: RunningCluster) -> None:
    """Argo Rollouts #1681: the weight never reaches 100 before the canary is available."""
    steps = "- setWeight: 25\n- pause: {}\n"
    async with harness(release_cluster, {**PROXY, "canarist.io/steps": steps}) as h:
        await h.set_version("v2")
        await h.wait("weight 25", lambda s, d: s.step == 1 and s.weight == 25)
        # v3 pods take 2 s to become ready
        await h.set_version("v3", DEMO_READY_AFTER_S="2")
        await h.wait("v3 at 25", lambda s, d: s.step == 1 and s.weight == 25, within=30)
        await h.annotate("promote-full")
        started = time.monotonic()
        seen: list[tuple[int, int]] = []
        while time.monotonic() - started < 20:
            canary = await h.canary() or {}
            available = (canary.get("status") or {}).get("availableReplicas", 0)
            weight = await route_weight(h)
            seen.append((weight, available))
            if weight == 100:
                break
        assert seen[-1][0] == 100
        assert all(available >= 4 for weight, available in seen if weight == 100)
        assert any(weight < 100 for weight, _ in seen)
        await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=30)


async def test_restart_in_a_timed_pause_resumes_the_remaining_time(
    release_cluster: RunningCluster,
) -> None:
    steps = "- setWeight: 20\n- pause: {duration: 3s}\n- setWeight: 40\n- pause: {}\n"
    async with harness(release_cluster, {**PROXY, "canarist.io/steps": steps}) as h:
        await h.set_version("v2")
        status = await h.wait("in the pause", lambda s, d: s.step == 1 and s.weight == 20)
        paused_at = time.monotonic()
        await h.stop()  # the reconciler dies
        started_at = status.step_started_at
        config = await h.get("ConfigMap", "web-canarist-routes")
        assert config is not None
        version = config["metadata"]["resourceVersion"]
        await asyncio.sleep(1.0)
        await h.start()  # a new one: same step, same weight, no router write
        await asyncio.sleep(0.5)
        status = await h.status()
        assert (status.step, status.weight, status.step_started_at) == (1, 20, started_at)
        config = await h.get("ConfigMap", "web-canarist-routes")
        assert config is not None and config["metadata"]["resourceVersion"] == version
        await h.wait("pause over", lambda s, d: s.step == 3 and s.weight == 40)
        elapsed = time.monotonic() - paused_at
        assert 2.5 <= elapsed < 6.0, elapsed  # the remaining time, not a new 3 s pause


async def test_new_revision_mid_release_restarts_at_step_0(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        v1, v2 = await release_to_50(h)
        await h.set_version("v3")
        status = await h.wait(
            "v3 at step 1",
            lambda s, d: s.step == 1 and s.weight == 20 and s.canary_hash not in (v1, v2),
        )
        v3 = status.canary_hash
        canary = await h.canary()
        assert canary is not None
        assert canary["spec"]["selector"]["matchLabels"][HASH_LABEL] == v3
        assert await h.selector("web-canary") == {"app": "web", HASH_LABEL: v3}
        assert await h.selector("web") == {"app": "web", HASH_LABEL: v1}
        events = await h.client.list("v1", "Event", h.ns)
        assert any(e.get("reason") == "ReleaseRestarted" for e in events)


async def test_fast_rollback(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        v1, _ = await release_to_50(h)
        await h.set_version("v1")  # back to the stable template
        status = await h.wait("rolled back", lambda s, d: s.phase == Phase.HEALTHY)
        assert status.message == f"rolled back to {v1}"
        assert (await h.deployment())["spec"]["paused"] is False
        assert await route_weight(h) == 0
        assert await h.selector("web-canary") == {"app": "web", HASH_LABEL: v1}
        await h.wait_for("canary deleted", lambda: _gone(h))
        rs = await h.client.list("apps/v1", "ReplicaSet", h.ns)
        assert len([r for r in rs if r["metadata"]["ownerReferences"][0]["name"] == "web"]) == 1


async def test_label_removed_mid_release(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        await release_to_50(h)
        patch = {"metadata": {"labels": {"canarist.io/enabled": None}}}
        await h.client.patch(h.ref("Deployment", "web"), patch)
        await h.wait_for("canary removed", lambda: _gone(h))
        d = await h.wait(
            "unpaused",
            lambda s, d: (
                d["spec"].get("paused") is False
                and "canarist.io/status" not in d["metadata"]["annotations"]
            ),
        )
        del d
        assert await h.selector("web") == {"app": "web"}
        svc = await h.get("Service", "web")
        assert svc is not None
        assert MANAGED_BY_ANNOTATION not in (svc["metadata"].get("annotations") or {})
        assert await h.get("Service", "web-canary") is None
        assert await h.get("ConfigMap", "web-canarist-routes") is None  # the router's cleanup


async def test_deployment_deleted(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, PROXY) as h:
        await release_to_50(h)
        await h.client.delete(h.ref("Deployment", "web"))
        await h.wait_for("selector restored", lambda: _selector_is(h, {"app": "web"}))
        await h.wait_for("canary collected", lambda: _gone(h))
        await h.wait_for("canary Service collected", lambda: _absent(h, "Service", "web-canary"))


async def _selector_is(h: Harness, want: dict[str, str]) -> bool:
    return await h.selector("web") == want


async def _absent(h: Harness, kind: str, name: str) -> bool:
    return await h.get(kind, name) is None
