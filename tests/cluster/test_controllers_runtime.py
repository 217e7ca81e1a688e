"""The controllers' plumbing: informer caches and indexes over the real in-process API, the work
queue's de-duplication and delays, ReplicaSet expectations and the Event shape."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.events import event_body
from webhook.cluster.controllers.informer import Informer
from webhook.cluster.controllers.replicaset_loop import Expectations
from webhook.cluster.controllers.workqueue import Retry, WorkQueue, run_workers


def cm(name: str, owner: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o",
                                  "uid": owner, "controller": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}


async def settle(check: Any, limit: float = 3.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "informer did not catch up"
        await asyncio.sleep(0.01)


async def test_informer_lists_then_watches_and_keeps_the_controller_index():
    api = ClusterAPI()
    await api.create("configmaps", "default", cm("before", owner="u1"))
    inf = Informer(api, "configmaps")
    seen: list[tuple[str, str]] = []
    inf.add_handler(lambda t, old, new: seen.append((t, (new or old or {})["metadata"]["name"])))
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.wait_for(inf.synced.wait(), 3)
        assert [o["metadata"]["name"] for o in inf.controlled_by("u1")] == ["before"]
        await api.create("configmaps", "default", cm("orphan"))
        await settle(lambda: inf.get("default", "orphan") is not None)
        assert [o["metadata"]["name"] for o in inf.orphans("default")] == ["orphan"]
        # Adoption moves it from the orphans to its owner's bucket.
        await api.patch("configmaps", "default", "orphan", {"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1",
             "controller": True}]}}, "merge")
        await settle(lambda: len(inf.controlled_by("u1")) == 2)
        assert inf.orphans("default") == []
        await api.delete("configmaps", "default", "before")
        await settle(lambda: inf.get("default", "before") is None)
        assert [o["metadata"]["name"] for o in inf.controlled_by("u1")] == ["orphan"]
        assert ("ADDED", "before") in seen and ("DELETED", "before") in seen
        assert ("MODIFIED", "orphan") in seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_informer_relists_after_410_expired_and_reports_what_vanished():
    api = ClusterAPI(history_size=2)
    inf = Informer(api, "configmaps")
    gone: list[str] = []
    inf.add_handler(lambda t, old, new: gone.append(old["metadata"]["name"])
                    if t == "DELETED" and old else None)
    await api.create("configmaps", "default", cm("a"))
    items, _ = await api.list("configmaps")
    inf.replace(items)
    # While the informer is not watching, history is compacted past it and "a" goes away.
    await api.delete("configmaps", "default", "a")
    for i in range(5):
        await api.create("configmaps", "default", cm(f"n{i}"))
    task = asyncio.create_task(inf.run())
    try:
        await settle(lambda: len(inf.list("default")) == 5)
        assert gone == ["a"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_work_queue_dedupes_and_never_runs_a_key_twice_at_once():
    q: WorkQueue[str] = WorkQueue()
    running: set[str] = set()
    runs: list[str] = []
    overlap: list[str] = []

    async def sync(key: str) -> None:
        if key in running:
            overlap.append(key)
        running.add(key)
        runs.append(key)
        await asyncio.sleep(0.05)
        if runs.count(key) == 1 and key == "a":
            q.add("a")  # added while processing: runs once more afterwards
        running.discard(key)

    for key in ("a", "a", "b", "a"):
        q.add(key)
    workers = asyncio.create_task(run_workers(q, sync, 4, "test"))
    await asyncio.sleep(0.3)
    workers.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await workers
    assert sorted(runs) == ["a", "a", "b"]
    assert overlap == []


async def test_add_after_keeps_the_earliest_deadline_and_retry_backs_off():
    q: WorkQueue[str] = WorkQueue(base_delay=0.05, max_delay=1.0)
    started = time.monotonic()
    q.add_after("k", 0.5)
    q.add_after("k", 0.05)
    q.add_after("k", 0.4)
    assert await asyncio.wait_for(q.get(), 1) == "k"
    assert time.monotonic() - started < 0.3
    q.done("k")
    attempts: list[float] = []

    async def failing(key: str) -> None:
        attempts.append(time.monotonic())
        raise Retry()

    q.add("r")
    workers = asyncio.create_task(run_workers(q, failing, 1, "test"))
    await asyncio.sleep(0.5)
    workers.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await workers
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(attempts) >= 3
    assert gaps[1] > gaps[0] * 1.5  # 50 ms, 100 ms, 200 ms ...


def test_expectations_wait_for_observed_creations_and_deletions():
    now = [1000.0]
    exp = Expectations(lambda: now[0])
    key = ("ns", "rs")
    assert exp.satisfied(key)
    exp.expect_creations(key, 2)
    exp.creation_observed(key)
    assert not exp.satisfied(key)
    exp.creation_observed(key)
    assert exp.satisfied(key)
    exp.expect_deletions(key, ["ns/a", "ns/b"])
    exp.deletion_observed(key, "ns/a")
    assert not exp.satisfied(key)
    now[0] += 301  # ExpectationsTimeout: 5 minutes
    assert exp.satisfied(key)


def test_event_body_has_the_record_package_shape():
    involved = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "ns", "uid": "u",
                             "resourceVersion": "7"}}
    body = event_body(involved, "Normal", "ScalingReplicaSet", "Scaled up", component="dc",
                      now=1_700_000_000.5)
    assert body["metadata"] == {"name": "web.17979cfe53f76500", "namespace": "ns"}
    assert body["involvedObject"] == {"kind": "Deployment", "namespace": "ns", "name": "web",
                                      "uid": "u", "apiVersion": "apps/v1",
                                      "resourceVersion": "7"}
    assert (body["type"], body["reason"], body["count"], body["source"]) == (
        "Normal", "ScalingReplicaSet", 1, {"component": "dc"})
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2023-11-14T22:13:20Z"
