"""The work queue's guarantees: coalescing, one holder per key, delays, backoff, shutdown."""

from __future__ import annotations

import asyncio
import random

from webhook.kube.workqueue import WorkQueue


async def test_adds_coalesce_and_keys_come_out_in_order() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    got = [await q.get() for _ in range(3)]
    assert got == ["a", "b", "c"]


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while the first holds it
    q.done("a")
    assert len(q) == 1 and await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_add_after_keeps_the_earliest_time() -> None:
    q: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("a", 0.3)
    q.add_after("a", 0.05)
    q.add_after("a", 0.5)
    assert q.delayed == 1
    assert await asyncio.wait_for(q.get(), 1) == "a"
    assert 0.04 < loop.time() - start < 0.25
    q.done("a")
    assert q.delayed == 0 and len(q) == 0


async def test_a_key_whose_time_came_is_served_before_keys_woken_by_events() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("pause-end", 0.05)
    q.add_after("queued-too", 0.05)
    q.add("queued-too")  # already waiting behind events when its time comes: moved up
    for i in range(50):  # a burst of events (releases starting)
        q.add(f"event-{i}")
    await asyncio.sleep(0.1)
    assert [await q.get(), await q.get()] == ["pause-end", "queued-too"]  # in firing order
    assert await q.get() == "event-0"
    assert len(q) == 49  # nothing lost, nothing doubled


async def test_client_go_order_when_due_keys_do_not_jump() -> None:
    q: WorkQueue[str] = WorkQueue(due_first=False)
    q.add_after("late", 0.02)
    q.add("event")
    await asyncio.sleep(0.05)
    assert [await q.get(), await q.get()] == ["event", "late"]


async def test_a_timer_for_a_key_being_processed_comes_back_once_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add_after("a", 0.01)
    await asyncio.sleep(0.05)
    assert len(q) == 0
    q.done("a")
    assert len(q) == 1 and await q.get() == "a"


async def test_rate_limited_backoff_grows_per_key_until_forget() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.05)
    delays = [q.add_rate_limited("a") for _ in range(5)]
    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert q.requeues("a") == 5 and q.add_rate_limited("b") == 0.01
    q.forget("a")
    assert q.requeues("a") == 0 and q.add_rate_limited("a") == 0.01


async def test_a_cheap_failure_backs_off_from_its_own_base_to_its_own_cap() -> None:
    """A write conflict (``base=0.005, cap=1``): tens of them in a row while pods start must not
    push the next try tens of seconds away, as the queue's own 0.1 s doubling would."""
    q: WorkQueue[str] = WorkQueue(base_delay=0.1, max_delay=30.0)
    delays = [q.add_rate_limited("a", base=0.005, cap=1.0) for _ in range(10)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    assert q.add_rate_limited("a") == 30.0  # the same count of failures, the queue's own rule


async def test_shutdown_drains_then_returns_none() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add_after("later", 10)
    q.shutdown()
    q.add("b")  # ignored after shutdown
    assert await q.get() == "a"
    assert await asyncio.wait_for(q.get(), 1) is None
    assert q.delayed == 0


async def test_waiting_workers_wake_on_shutdown() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [None, None, None]


async def test_workers_never_hold_one_key_twice_and_miss_no_add() -> None:
    q: WorkQueue[int] = WorkQueue()
    rnd = random.Random(7)
    holding: set[int] = set()
    handled: dict[int, int] = {}
    overlaps = 0
    last_add: dict[int, int] = {}
    last_seen: dict[int, int] = {}
    tick = 0

    async def worker() -> None:
        nonlocal overlaps, tick
        while (key := await q.get()) is not None:
            if key in holding:
                overlaps += 1
            holding.add(key)
            last_seen[key] = tick
            await asyncio.sleep(rnd.random() * 0.002)
            handled[key] = handled.get(key, 0) + 1
            holding.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(400):
        tick += 1
        key = rnd.randrange(10)
        last_add[key] = tick
        q.add(key)
        if rnd.random() < 0.3:
            await asyncio.sleep(0)
    for _ in range(400):  # bounded: at most ~2 s
        if not len(q) and not holding:
            break
        await asyncio.sleep(0.005)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 2)
    assert overlaps == 0
    # every key was processed after its last add (level-triggered: nothing lost)
    assert all(last_seen[k] >= last_add[k] for k in last_add)
    assert sum(handled.values()) < 400  # and repeated adds coalesced
