"""Promotion hands the tested pods over, end to end on the embedded cluster (DESIGN §8b).

Router ``proxy`` with a real ``canarist proxy`` process in front of the pods (real HTTP servers
on loopback addresses), bounded continuous load through it during the promotion, and a store
listener that sees every pod the API server creates or removes. Shown: the user's Deployment ends
with the very pods that served as the canary at 100%; no pod is created after that; the peak pod
count is R + the canary's; no request fails; and a reconciler killed at each write of the
hand-over is replaced by one that converges to the same end state.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.names import HASH_LABEL
from webhook.spec import Phase

from .e2e import Harness, harness
from .handover_kit import Halting, Load, PodLog, proxy_for

pytestmark = pytest.mark.slow

R = 4
STEPS = "- setWeight: 50\n- pause: {}\n- setWeight: 100\n- pause: {}\n"
PROXY = {
    "canarist.io/traffic-router": "proxy",
    "canarist.io/steps": STEPS,
    "canarist.io/scale-down-delay": "1s",
}


async def pods(h: Harness, selector: dict[str, str] | None = None) -> list[JSON]:
    sel = ",".join(f"{k}={v}" for k, v in sorted((selector or {"app": "web"}).items()))
    found = await h.client.list("v1", "Pod", h.ns, label_selector=sel)
    return [p for p in found if not p["metadata"].get("deletionTimestamp")]


async def replica_sets(h: Harness, owner: str = "web") -> list[JSON]:
    found = await h.client.list("apps/v1", "ReplicaSet", h.ns)
    return [rs for rs in found
            if any(r.get("name") == owner and r.get("controller")
                   for r in rs["metadata"].get("ownerReferences") or ())]


async def deployment_pods(h: Harness) -> set[str]:
    """The uids of the live pods of the user's Deployment's ReplicaSets."""
    owners = {rs["metadata"]["uid"] for rs in await replica_sets(h)}
    return {p["metadata"]["uid"] for p in await pods(h)
            if any(r.get("uid") in owners for r in p["metadata"].get("ownerReferences") or ())}


async def at_weight_100(h: Harness) -> tuple[str, set[str], float]:
    """Release v2 to the last step (weight 100, the canary at R pods): its hash, the uids of
    the canary's pods, and when it got there."""
    await h.set_version("v2")
    await h.wait("weight 50", lambda s, d: s.step == 1 and s.weight == 50)
    await h.annotate("promote")
    status = await h.wait("weight 100", lambda s, d: s.step == 3 and s.weight == 100)
    v2 = status.canary_hash
    tested = await h.wait_for(
        "R canary pods", lambda: _n_pods(h, {"app": "web", HASH_LABEL: v2}, R))
    return v2, {p["metadata"]["uid"] for p in tested}, time.monotonic()


async def _n_pods(h: Harness, selector: dict[str, str], n: int) -> list[JSON] | None:
    found = await pods(h, selector)
    ready = [p for p in found if _ready(p)]
    return ready if len(ready) == n == len(found) else None


def _ready(pod: JSON) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


async def handed_over(h: Harness, v2: str, tested: set[str], *, replicas: int = R) -> None:
    """The end state of every hand-over: Healthy on v2, the Deployment unpaused with the tested
    pods (and only them, unless it was scaled meanwhile), adopted in the canary's ReplicaSet,
    the canary Deployment gone, the stable Service on v2, weight 0."""
    await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v2,
                 within=40)
    d = await h.deployment()
    assert d["spec"]["paused"] is False
    mine = await deployment_pods(h)
    assert tested <= mine and len(mine) == replicas, (tested, mine)
    [rs] = [rs for rs in await replica_sets(h) if rs["spec"]["replicas"] > 0]
    assert rs["metadata"]["name"].startswith("web-canary-")  # the canary's, adopted
    revision = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == revision
    assert await h.canary() is None
    assert await h.selector("web") == {"app": "web", HASH_LABEL: v2}
    status = await h.status()
    assert status.weight == 0 and "handover" not in status.extra


async def test_promotion_hands_the_tested_pods_over(release_cluster: RunningCluster) -> None:
    log = PodLog(release_cluster)
    try:
        async with harness(release_cluster, PROXY, replicas=R) as h, proxy_for(h) as proxy:
            v2, tested, at_100 = await at_weight_100(h)
            load = Load(f"http://127.0.0.1:{proxy.port}/")
            async with load.running():
                await h.annotate("promote")
                await handed_over(h, v2, tested)
            assert load.failed == [] and load.sent >= 50, (load.sent, load.failed[:5])
            assert set(load.versions) == {"v2"}
            assert log.created(h.ns, after=at_100) == []  # not one pod since the canary had 100%
            assert log.peak(h.ns, after=at_100) == R + R  # the stable pods and the canary's
            assert await deployment_pods(h) == tested
            d = await h.deployment()
            assert (d.get("status") or {}).get("updatedReplicas") == R
            events = await h.client.list("v1", "Event", h.ns)
            said = " ".join(e.get("message", "") for e in events)
            assert "handing its ReplicaSet web-canary-" in said
    finally:
        log.stop()


async def test_min_ready_seconds_max_unavailable_0_and_dynamic_stable_scale(
    release_cluster: RunningCluster,
) -> None:
    """The stable pods (shrunk by dynamic stable scale) get the full count back before the
    orphaning: the adopted ReplicaSet must be saturated for ``spec.replicas``, or the paused
    Deployment would scale it down (``scale``: a single active ReplicaSet gets spec.replicas)."""
    annotations = {**PROXY, "canarist.io/dynamic-stable-scale": "true"}
    del annotations["canarist.io/scale-down-delay"]  # 0 with dynamic stable scale
    async with harness(release_cluster, annotations, replicas=R) as h, proxy_for(h) as proxy:
        patch = {"spec": {"minReadySeconds": 1,
                          "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}}
        await h.client.patch(h.ref("Deployment", "web"), patch, patch_type="strategic")
        v2, tested, _ = await at_weight_100(h)
        load = Load(f"http://127.0.0.1:{proxy.port}/")
        async with load.running():
            await h.annotate("promote")
            await handed_over(h, v2, tested)
        assert load.failed == [], load.failed[:5]
        assert await deployment_pods(h) == tested


async def test_a_scale_and_a_new_template_during_the_hand_over(
    release_cluster: RunningCluster,
) -> None:
    """Right after the orphaning: an HPA-like scale to 6 and a new template v3. v3 is held as a
    release over v2 (the handed-over revision is already the stable one), and v2's pods, the
    tested ones, keep serving until v3 is promoted in its turn."""
    async with harness(release_cluster, PROXY, replicas=R) as h, proxy_for(h) as proxy:
        v2, tested, _ = await at_weight_100(h)
        await h.stop()
        halting = Halting(h.client, orphaning)
        await h.start(halting)
        load = Load(f"http://127.0.0.1:{proxy.port}/")
        async with load.running():
            await h.annotate("promote")
            await h.wait_for("the orphaning", halting.halted.wait)
            await h.stop()
            await h.client.patch(h.ref("Deployment", "web"), {"spec": {"replicas": 6}})
            await h.set_version("v3")
            await h.start()
            status = await h.wait("v3 released over v2", lambda s, d: (
                s.stable_hash == v2 and s.canary_hash != v2 and s.step == 1 and s.weight == 50))
            assert await deployment_pods(h) >= tested  # the tested pods are the stable ones
            await h.annotate("promote-full")
            await h.wait("v3 promoted", lambda s, d: (
                s.phase == Phase.HEALTHY and s.stable_hash == status.canary_hash), within=40)
        assert load.failed == [], load.failed[:5]
        assert load.versions.get("v2", 0) > 0 and load.versions.get("v3", 0) > 0


def orphaning(verb: str, ref: ObjectRef, body: Any, kw: dict[str, Any]) -> bool:
    return verb == "delete" and ref.name == "web-canary" and kw.get("propagation") == "Orphan"


def switching(verb: str, ref: ObjectRef, body: Any, kw: dict[str, Any]) -> bool:
    selector = ((body or {}).get("spec") or {}).get("selector") or {}
    return verb == "patch" and ref.kind == "Service" and ref.name == "web" and bool(
        selector.get(HASH_LABEL))


def booking(verb: str, ref: ObjectRef, body: Any, kw: dict[str, Any]) -> bool:
    text = ((body or {}).get("metadata") or {}).get("annotations", {}).get("canarist.io/status")
    return (verb == "patch" and ref.kind == "Deployment" and ref.name == "web"
            and isinstance(text, str) and "handover" in json.loads(text))


def unpausing(verb: str, ref: ObjectRef, body: Any, kw: dict[str, Any]) -> bool:
    spec = (body or {}).get("spec") or {}
    return verb == "patch" and ref.name == "web" and spec.get("paused") is False


@pytest.mark.parametrize("point", [switching, booking, orphaning, unpausing],
                         ids=lambda f: f.__name__)
async def test_a_reconciler_killed_at_each_write_of_the_hand_over(
    release_cluster: RunningCluster, point: Any
) -> None:
    """Killed right after the write (nothing after it done), then replaced: the same end."""
    log = PodLog(release_cluster)
    try:
        async with harness(release_cluster, PROXY, replicas=R) as h, proxy_for(h) as proxy:
            v2, tested, at_100 = await at_weight_100(h)
            await h.stop()
            halting = Halting(h.client, point)
            await h.start(halting)
            load = Load(f"http://127.0.0.1:{proxy.port}/")
            async with load.running():
                await h.annotate("promote")
                await h.wait_for(f"the write {point.__name__}", halting.halted.wait)
                await h.stop()  # killed
                await h.start()  # a new one, from the cluster alone
                await handed_over(h, v2, tested)
            assert load.failed == [], load.failed[:5]
            assert log.created(h.ns, after=at_100) == []
            assert await deployment_pods(h) == tested
    finally:
        log.stop()


async def test_a_hand_over_that_cannot_be_proven_safe_rolls_out(
    release_cluster: RunningCluster,
) -> None:
    """Another Deployment's selector also matches the canary's pods (it could adopt the orphan
    first): the promotion rolls out as before, with the reason in a Warning Event."""
    other = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "other"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web", "role": "other"}},
                              "spec": {"containers": [{"name": "app", "image": "demo:x"}]}}},
    }
    async with harness(release_cluster, PROXY, replicas=R) as h, proxy_for(h) as proxy:
        await h.client.create({**other, "metadata": {"name": "other", "namespace": h.ns}})
        _, tested, _ = await at_weight_100(h)
        load = Load(f"http://127.0.0.1:{proxy.port}/")
        async with load.running():
            await h.annotate("promote")
            await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=40)
        assert load.failed == [], load.failed[:5]
        [warning] = await h.warning_events("HandOverSkipped")
        assert "Deployment other also selects the pods" in warning["message"]
        assert not (await deployment_pods(h)) & tested  # new pods: the rollout's
