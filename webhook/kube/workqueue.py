"""A work queue keyed by object (client-go ``workqueue`` semantics) for level-triggered loops.

- ``add(key)``: a key waiting once is not added twice (events coalesce); a key being processed
  (between ``get`` and ``done``) is re-queued by ``done`` if it was added meanwhile, so two
  workers never hold the same key.
- ``add_after(key, seconds)``: requeue-after (timed pauses); the earliest pending time wins.
  When the time comes the key goes to the **front** of the queue: a deadline that passed (a
  pause's end, a retry's backoff) is served before keys woken by events, so a burst of events
  (a hundred releases starting at once) cannot hold a pause's end back behind it.
  ``due_first=False`` keeps client-go's order instead (a due key joins the tail), which the
  embedded cluster's controllers use to interleave as upstream's do.
- ``add_rate_limited(key)``: per-key exponential backoff after a failure, ``base * 2**n`` capped
  at ``max_delay``; ``forget(key)`` resets it after a success. A caller may pass its own base and
  cap for a failure that is cheap to retry (a write conflict: the cache was a step behind).
- ``get()`` waits for a key; ``None`` once the queue is shut down and empty.

Keys are anything hashable; the release loop uses ``(namespace, name)`` of the Deployment.
Memory is bounded by the number of distinct keys.

Worker shape::

    while (key := await queue.get()) is not None:
        try:
            requeue = await reconcile(key)
        except Unavailable:
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
            if requeue is not None:
                queue.add_after(key, requeue)
        finally:
            queue.done(key)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(
        self, *, base_delay: float = 0.05, max_delay: float = 60.0, due_first: bool = True
    ) -> None:
        self.due_first = due_first  # False: client-go's order (a due key joins the tail)
        self._queue: deque[K] = deque()
        self._due: deque[K] = deque()  # keys whose time came: served first, in firing order
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._wake = asyncio.Event()
        self._shutdown = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        """Keys waiting to be handed out (not those being processed or delayed)."""
        return len(self._due) + len(self._queue)

    @property
    def delayed(self) -> int:
        return len(self._timers)

    def add(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake.set()

    def add_after(self, key: K, seconds: float) -> None:
        if self._shutdown:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + seconds
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        if not self.due_first:
            self.add(key)
            return
        if self._shutdown:
            return
        if key in self._dirty:
            if key in self._processing or key in self._due:
                return  # done() requeues it, or it is already up front
            self._queue.remove(key)  # waiting behind events: move it up
        self._dirty.add(key)
        if key not in self._processing:
            self._due.append(key)
            self._wake.set()

    def add_rate_limited(self, key: K, base: float | None = None,
                         cap: float | None = None) -> float:
        """Requeue after this key's backoff (``base``/``cap`` instead of the queue's own when
        given); returns the delay used."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        first = self.base_delay if base is None else base
        delay = min(self.max_delay if cap is None else cap, first * 2.0**n)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def requeues(self, key: K) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> K | None:
        while not self._queue and not self._due:
            if self._shutdown:
                return None
            self._wake.clear()
            await self._wake.wait()
        key = self._due.popleft() if self._due else self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._queue.append(key)
            self._wake.set()

    def shutdown(self) -> None:
        """No more adds; waiting ``get`` calls return ``None`` once the queue is drained."""
        self._shutdown = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._wake.set()
