"""Leader election: the pure decision as a table, and two candidates on a real Lease over
HTTPS (one wins; the other takes over when the first stops renewing, or at once when it
releases)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kube.conftest import FAST
from tests.kube.front import Front
from webhook.errors import ConfigError
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.leader import LeaderElector, LeaseRecord, Move, decide, lease_body
from webhook.kube.protocol import JSON, ObjectRef

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


def record(holder: str, duration: int = 15, transitions: int = 0) -> LeaseRecord:
    return LeaseRecord(holder, duration, T0, T0, transitions, "7")


@pytest.mark.parametrize(("current", "observed_for", "move"), [
    (None, 0.0, Move.CREATE),
    (record("me"), 100.0, Move.RENEW),
    (record(""), 0.0, Move.TAKE),
    (record("other"), 3.0, Move.WAIT),
    (record("other"), 14.9, Move.WAIT),
    (record("other"), 15.0, Move.TAKE),
    (record("other", duration=0), 14.0, Move.WAIT),  # no duration recorded: ours (15 s)
    (record("other", duration=5), 6.0, Move.TAKE),  # the holder's duration counts
])
def test_decide(current: LeaseRecord | None, observed_for: float, move: Move) -> None:
    assert decide(current, "me", observed_for=observed_for, lease_duration=15.0) is move


MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_lease_bodies() -> None:
    created = lease_body("ns", "l", "me", Move.CREATE, None, T0, 15)
    spec = created["spec"]
    assert spec == {"holderIdentity": "me", "leaseDurationSeconds": 15,
                    "acquireTime": "2025-03-01T12:00:00.123456Z",
                    "renewTime": "2025-03-01T12:00:00.123456Z", "leaseTransitions": 0}
    assert "resourceVersion" not in created["metadata"]
    later = T0 + dt.timedelta(seconds=2)
    renewed = lease_body("ns", "l", "me", Move.RENEW, record("me", transitions=3), later, 15)
    assert renewed["spec"]["acquireTime"] == "2025-03-01T12:00:00.123456Z"
    assert renewed["spec"]["renewTime"] == "2025-03-01T12:00:02.123456Z"
    assert renewed["spec"]["leaseTransitions"] == 3
    assert renewed["metadata"]["resourceVersion"] == "7"
    taken = lease_body("ns", "l", "me", Move.TAKE, record("other", transitions=3), later, 15)
    assert taken["spec"]["leaseTransitions"] == 4
    assert taken["spec"]["acquireTime"] == taken["spec"]["renewTime"]
    assert all(MICRO.match(v) for v in (taken["spec"]["acquireTime"],
                                        taken["spec"]["renewTime"]))


def test_timings_must_be_ordered(client: KubeClient) -> None:
    with pytest.raises(ConfigError, match="lease duration > renew deadline > retry period"):
        LeaderElector(client, namespace="n", name="l", identity="a", lease_duration=2,
                      renew_deadline=3, retry_period=1)
    with pytest.raises(ConfigError, match="identity must not be empty"):
        LeaderElector(client, namespace="n", name="l", identity="")


def elector(client: KubeClient, ns: str, who: str) -> LeaderElector:
    return LeaderElector(client, namespace=ns, name="reconciler", identity=who,
                         lease_duration=1.2, renew_deadline=0.8, retry_period=0.15)


class Work:
    """A ``lead`` function that records when it runs."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def parse_micro(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


async def lease(client: KubeClient, ns: str) -> JSON:
    got = await client.get(ObjectRef("coordination.k8s.io/v1", "Lease", ns, "reconciler"))
    assert got is not None
    return got


async def wait_for(check: Callable[[], bool], within: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not check():
        if loop.time() - start > within:
            raise AssertionError(f"not within {within}s")
        await asyncio.sleep(0.02)
    return loop.time() - start


async def test_one_wins_and_the_other_takes_over_when_renewals_stop(
        client: KubeClient, ns: str, front: Front, front_kubeconfig: Path) -> None:
    async with connect(ClientOptions(kubeconfig=str(front_kubeconfig)), backoff=FAST) as via:
        a, b = elector(via, ns, "a"), elector(client, ns, "b")
        work_a, work_b = Work(), Work()
        run_a = asyncio.create_task(a.run(work_a))
        await asyncio.wait_for(work_a.started.wait(), 3)
        run_b = asyncio.create_task(b.run(work_b))
        await asyncio.sleep(1.0)  # b watches a renew for a while
        assert not work_b.started.is_set() and not b.is_leader and b.holder == "a"
        held = (await lease(client, ns))["spec"]
        assert held["holderIdentity"] == "a" and held["leaseDurationSeconds"] == 1
        assert MICRO.match(held["renewTime"])
        # a loses the API server: it cannot renew, and cannot release either
        front.fail(503, 10_000, path_contains=f"/namespaces/{ns}/leases")
        last_renewal = parse_micro((await lease(client, ns))["spec"]["renewTime"])
        lost = await asyncio.wait_for(run_a, 3)
        assert lost is True and work_a.cancelled and not a.is_leader
        await wait_for(work_b.started.is_set, within=4)
        # b waited for the lease to expire: a full lease duration after a's last renewal
        assert dt.datetime.now(dt.UTC) - last_renewal >= dt.timedelta(seconds=1)
        spec = (await lease(client, ns))["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
        run_b.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run_b
        front.faults.clear()


async def test_a_released_lease_is_taken_over_at_once(client: KubeClient, ns: str) -> None:
    a, b = elector(client, ns, "a"), elector(client, ns, "b")
    work_a, work_b = Work(), Work()
    run_a = asyncio.create_task(a.run(work_a))
    await asyncio.wait_for(work_a.started.wait(), 3)
    run_b = asyncio.create_task(b.run(work_b))
    await asyncio.sleep(0.4)
    run_a.cancel()  # SIGTERM: stop the work, release the lease
    with pytest.raises(asyncio.CancelledError):
        await run_a
    assert work_a.cancelled
    took = await wait_for(work_b.started.is_set, within=2)
    assert took < 1.0  # well before a full lease duration after a's last renewal
    spec = (await lease(client, ns))["spec"]
    assert spec["holderIdentity"] == "b"
    run_b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_b
    assert (await lease(client, ns))["spec"]["holderIdentity"] == ""


async def test_racing_candidates_elect_exactly_one(client: KubeClient, ns: str) -> None:
    candidates = [elector(client, ns, f"c{i}") for i in range(4)]
    works = [Work() for _ in candidates]
    runs = [asyncio.create_task(c.run(w)) for c, w in zip(candidates, works, strict=True)]
    await wait_for(lambda: any(w.started.is_set() for w in works), within=3)
    await asyncio.sleep(0.6)
    leaders = [c.identity for c, w in zip(candidates, works, strict=True) if w.started.is_set()]
    assert len(leaders) == 1
    assert (await lease(client, ns))["spec"]["holderIdentity"] == leaders[0]
    for r in runs:
        r.cancel()
    await asyncio.gather(*runs, return_exceptions=True)


async def test_when_the_work_ends_the_lease_is_released(client: KubeClient, ns: str) -> None:
    a = elector(client, ns, "a")

    async def short() -> None:
        await asyncio.sleep(0.05)

    assert await a.run(short) is False
    assert (await lease(client, ns))["spec"]["holderIdentity"] == ""


async def test_errors_of_the_work_propagate_after_release(client: KubeClient, ns: str) -> None:
    a = elector(client, ns, "a")

    async def broken() -> None:
        raise RuntimeError("reconcile crashed")

    with pytest.raises(RuntimeError, match="reconcile crashed"):
        await a.run(broken)
    assert (await lease(client, ns))["spec"]["holderIdentity"] == ""


async def test_the_lease_is_owned_by_the_deployment_and_goes_with_it(
        client: KubeClient, ns: str) -> None:
    from tests.kube.conftest import deployment
    from webhook.kube.leader import deployment_owner

    assert await deployment_owner(client, ns, "reconciler") is None
    await client.create(deployment(ns, "reconciler", replicas=0))
    owner = await deployment_owner(client, ns, "reconciler")
    assert owner is not None and owner["kind"] == "Deployment" and owner["uid"]
    a = LeaderElector(client, namespace=ns, name="reconciler", identity="a",
                      lease_duration=1.2, renew_deadline=0.8, retry_period=0.15,
                      owners=(owner,))
    work = Work()
    run = asyncio.create_task(a.run(work))
    await asyncio.wait_for(work.started.wait(), 3)
    await asyncio.sleep(0.4)  # renewed a few times: every write keeps the reference
    assert (await lease(client, ns))["metadata"]["ownerReferences"] == [owner]
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    released = await lease(client, ns)
    assert released["spec"]["holderIdentity"] == "" and released["metadata"]["ownerReferences"]
    await client.delete(ObjectRef("apps/v1", "Deployment", ns, "reconciler"))
    ref = ObjectRef("coordination.k8s.io/v1", "Lease", ns, "reconciler")
    for _ in range(200):
        if await client.get(ref) is None:
            break
        await asyncio.sleep(0.1)
    assert await client.get(ref) is None
