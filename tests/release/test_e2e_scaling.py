"""Replica counts of a release, live on the embedded cluster: dynamic stable scale and router
``none`` write the user's ``spec.replicas``, follow Argo Rollouts' counts at every step, and give
the full count back (stable first) on abort, rollback and promotion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.release.render import render
from webhook.spec import Phase

from .e2e import Harness, deployment, harness, service

pytestmark = pytest.mark.slow

DYNAMIC = {
    "canarist.io/traffic-router": "proxy",
    "canarist.io/dynamic-stable-scale": "true",
    "canarist.io/steps": "- setWeight: 25\n- pause: {}\n- setWeight: 75\n- pause: {}\n",
    "canarist.io/abort-scale-down-delay": "1s",
}
BASIC = {
    "canarist.io/steps": (
        "- setWeight: 20\n- pause: {}\n- setWeight: 40\n- pause: {}\n"
        "- setWeight: 60\n- pause: {}\n- setWeight: 80\n- pause: {}\n"
    ),
    "canarist.io/scale-down-delay": "1s",
}


@dataclass(frozen=True)
class Counts:
    """Spec replica counts: the user's Deployment (the stable pods) and the canary Deployment."""

    stable: int
    canary: int


async def counts(h: Harness) -> Counts:
    d = await h.deployment()
    canary = await h.canary()
    return Counts(d["spec"]["replicas"], canary["spec"]["replicas"] if canary else 0)


@dataclass(frozen=True)
class Sample:
    counts: Counts
    pods: int  # pods that exist (not terminating)
    available: int  # available pods of both Deployments


class Watcher:
    """Samples the counts, the pods and the available pods while a test runs, to check an order
    of events and bounds, not just the end state."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> Sample:
        pods = await self.h.client.list("v1", "Pod", self.h.ns)
        alive = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp"))
        available = 0
        for d in (await self.h.deployment(), await self.h.canary()):
            available += ((d or {}).get("status") or {}).get("availableReplicas", 0)
        return Sample(await counts(self.h), alive, available)

    async def _run(self) -> None:
        while True:
            self.samples.append(await self._sample())
            await asyncio.sleep(0.02)

    def most_pods(self) -> int:
        return max(s.pods for s in self.samples)

    def least_available(self) -> int:
        return min(s.available for s in self.samples)

    def around(self, worst: int) -> list[Sample]:
        return self.samples[max(0, worst - 5) : worst + 5]

    def __enter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def settle(
    h: Harness, what: str, check: Callable[[Counts], bool], within: float = 30
) -> None:
    end = time.monotonic() + within
    seen = Counts(-1, -1)
    while time.monotonic() < end:
        seen = await counts(h)
        if check(seen):
            return
        await asyncio.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}; counts: {seen}")


async def paused_at(h: Harness, index: int, weight: int, want: Counts) -> None:
    """The release is paused at step ``index`` with ``weight`` and the counts ``want``."""
    await h.wait(f"step {index}", lambda s, d: s.step == index and s.phase == Phase.PAUSED)
    await settle(h, f"{want} at step {index}", lambda c: c == want)
    assert (await h.status()).weight == weight


async def rendered(annotations: dict[str, str], replicas: int, step: int) -> Counts:
    """What ``canarist render`` shows for the same manifest at ``step`` (it runs its own event
    loop: in a thread)."""
    manifest = yaml.safe_dump_all(
        [deployment("shop", annotations, replicas=replicas), service("shop")]
    )
    text = await asyncio.to_thread(render, manifest, step=step)
    out = {d["metadata"]["name"]: d for d in yaml.safe_load_all(text) if d["kind"] == "Deployment"}
    return Counts(out["web"]["spec"]["replicas"], out["web-canary"]["spec"]["replicas"])


async def test_dynamic_stable_scale_keeps_the_total_and_gives_it_back_on_abort(
    release_cluster: RunningCluster,
) -> None:
    """Issue: at 75% the canary had 1 pod (not 3), the total read 3, and after the abort the
    Deployment stayed at 1 replica for good."""
    async with harness(release_cluster, DYNAMIC, replicas=4) as h:
        await h.set_version("v2")
        await paused_at(h, 1, 25, Counts(3, 1))
        assert await rendered(DYNAMIC, 4, 1) == Counts(3, 1)
        await h.annotate("promote")
        await paused_at(h, 3, 75, Counts(1, 3))
        assert await rendered(DYNAMIC, 4, 3) == Counts(1, 3)
        with Watcher(h) as watched:
            await h.annotate("abort")
            await h.wait("aborted", lambda s, d: s.phase == Phase.DEGRADED and s.weight == 0)
            await settle(h, "the full count back", lambda c: c == Counts(4, 0))
        # the stable pods came back before the canary went
        for sample in watched.samples:
            if sample.counts.canary < 3:
                assert sample.counts.stable == 4, watched.samples
        await h.annotate("retry")
        await h.wait("25% again", lambda s, d: s.step == 1 and s.weight == 25)
        await settle(h, "canary 1 / stable 3 again", lambda c: c == Counts(3, 1))


async def test_dynamic_stable_scale_rollback_gives_the_count_back(
    release_cluster: RunningCluster,
) -> None:
    async with harness(release_cluster, DYNAMIC, replicas=4) as h:
        await h.set_version("v2")
        await h.wait("25%", lambda s, d: s.step == 1 and s.weight == 25)
        await settle(h, "stable 3 at 25%", lambda c: c == Counts(3, 1))
        await h.set_version("v1")  # the stable template again: a fast rollback
        await h.wait("rolled back", lambda s, d: s.phase == Phase.HEALTHY)
        await settle(h, "the full count back", lambda c: c == Counts(4, 0))


async def test_dynamic_stable_scale_promotion_ends_with_the_full_count(
    release_cluster: RunningCluster,
) -> None:
    async with harness(release_cluster, DYNAMIC, replicas=4) as h:
        await h.set_version("v2")
        await h.wait("25%", lambda s, d: s.step == 1 and s.weight == 25)
        await h.annotate("promote-full")
        status = await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=40)
        assert status.stable_hash == status.canary_hash
        await settle(h, "the full count, canary gone", lambda c: c == Counts(4, 0))


async def test_router_none_multiplies_the_pods(release_cluster: RunningCluster) -> None:
    """Issue: R=5 with steps 20/40/60/80 ran 1, 3, 8, 20 canary pods next to 5 stable. Argo's
    basic canary: 1/4, 2/3, 3/2, 4/1, the total never above R + maxSurge (25% of 5: 2)."""
    async with harness(release_cluster, BASIC, replicas=5) as h:
        with Watcher(h) as watched:
            await h.set_version("v2")
            for step, (weight, canary) in enumerate([(20, 1), (40, 2), (60, 3), (80, 4)]):
                await paused_at(h, 2 * step + 1, weight, Counts(5 - canary, canary))
                assert await rendered(BASIC, 5, 2 * step + 1) == Counts(5 - canary, canary)
                await h.annotate("promote")
            status = await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=40)
            assert status.stable_hash == status.canary_hash
            await settle(h, "the full count, canary gone", lambda c: c == Counts(5, 0))
        assert watched.most_pods() <= 5 + 2, watched.samples


async def test_router_none_abort_gives_stable_back_first(release_cluster: RunningCluster) -> None:
    async with harness(release_cluster, BASIC, replicas=5) as h:
        await h.set_version("v2")
        await h.wait("20%", lambda s, d: s.step == 1)
        await h.annotate("promote")
        await h.wait("40%", lambda s, d: s.step == 3 and s.phase == Phase.PAUSED)
        await settle(h, "2/3", lambda c: c == Counts(3, 2))
        with Watcher(h) as watched:
            await h.annotate("abort")
            await h.wait("aborted", lambda s, d: s.phase == Phase.DEGRADED)
            await settle(h, "the full count back", lambda c: c == Counts(5, 0))
        # R + maxSurge (25% of 5: 2) pods at most; R - maxUnavailable (1) available at least,
        # so the canary's pods went only as the stable ones came back
        assert watched.most_pods() <= 5 + 2, watched.samples
        assert watched.least_available() >= 5 - 1, watched.samples
        assert (await h.status()).weight == 0
