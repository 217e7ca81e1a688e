"""Recording Kubernetes Events (core/v1, as ``kubectl describe`` shows them) without flooding.

``EventRecorder.record(obj, "Normal", "StepCompleted", "step 2/5 done")`` never blocks and never
raises for API trouble: it correlates the event (``eventcorr``: repeats counted, similar events
combined), then leaves the write to a background task. Pending writes are coalesced per Event
(ten repeats waiting for their turn become one write carrying ``count: 10``) and paced per
involved object (``burst`` writes, then ``rate`` per second), on top of the client's own QPS
limit. A repeat updates the existing Event with a merge patch (``count``, ``lastTimestamp``);
if that Event is gone (expired by the server's TTL), it is created again.

The release loop records its ``ops.Event`` values with
``recorder.record(deployment, event.type.value, event.reason, event.message)``; ``aclose()``
flushes what is pending (bounded by a timeout) at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from webhook.errors import CanaristError, Conflict, NotFound
from webhook.kube.client import KubeClient
from webhook.kube.eventcorr import (
    LRU,
    Allowance,
    Correlator,
    Involved,
    Occurrence,
    Record,
    bump_patch,
    event_body,
)
from webhook.kube.protocol import ObjectRef

log = logging.getLogger("canarist.kube.events")


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        *,
        component: str = "canarist",
        instance: str = "",
        correlator: Correlator | None = None,
        burst: int = 25,
        rate: float = 0.1,
        max_pending: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.component = component
        self.instance = instance
        self.correlator = correlator or Correlator()
        self.burst = burst
        self.rate = rate
        self.max_pending = max_pending
        self.clock = clock
        self.written = 0  # API writes made
        self.dropped = 0  # occurrences dropped because the pending table was full
        # Event name -> (latest occurrence, whether the Event must be created)
        self._pending: OrderedDict[str, tuple[Occurrence, bool]] = OrderedDict()
        self._created: LRU[str, bool] = LRU(4096)
        self._budgets: LRU[tuple[str, str, str, str], Allowance] = LRU(4096)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def record(self, obj: Mapping[str, Any], etype: str, reason: str, message: str) -> Occurrence:
        """Record an event about ``obj`` (an API object with kind, apiVersion and metadata)."""
        occ = self.correlator.observe(Record(Involved.of(obj), etype, reason, message),
                                      self.clock())
        previous = self._pending.pop(occ.name, None)
        create = occ.new or (previous is not None and previous[1])
        if previous is None and len(self._pending) >= self.max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
        self._pending[occ.name] = (occ, create)
        self._wake.set()
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="events")
        return occ

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def aclose(self, within: float = 5.0) -> None:
        """Write what is pending (ignoring the pacing), for at most ``within`` seconds."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), within)

    async def _drain(self) -> None:
        while self._pending:
            _, (occ, create) = self._pending.popitem(last=False)
            await self._write(occ, create)

    async def _run(self) -> None:
        while True:
            ready, wait = self._next()
            if ready is None:
                self._wake.clear()
                if wait is None:
                    await self._wake.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                continue
            occ, create = self._pending.pop(ready)
            self._budget(occ).take()
            await self._write(occ, create)

    def _next(self) -> tuple[str | None, float | None]:
        """The oldest pending Event whose object has budget, else how long until one has."""
        now = self.clock()
        soonest: float | None = None
        for name, (occ, _) in self._pending.items():
            wait = self._budget(occ).wait(now)
            if wait <= 0:
                return name, None
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def _budget(self, occ: Occurrence) -> Allowance:
        key = occ.record.involved.key
        budget = self._budgets.get(key)
        if budget is None:
            budget = Allowance(self.burst, self.rate, self.clock())
            self._budgets.put(key, budget)
        return budget

    async def _write(self, occ: Occurrence, create: bool) -> None:
        ref = ObjectRef("v1", "Event", occ.record.involved.namespace, occ.name)
        body = event_body(occ, self.component, self.instance)
        try:
            if create or self._created.get(occ.name) is None:
                try:
                    await self.client.create(body)
                except Conflict:
                    await self.client.patch(ref, bump_patch(occ))
            else:
                try:
                    await self.client.patch(ref, bump_patch(occ))
                except NotFound:
                    await self.client.create(body)
            self._created.put(occ.name, True)
            self.written += 1
        except CanaristError as exc:
            log.info("event %s %s on %s/%s not recorded: %s", occ.record.type,
                     occ.record.reason, occ.record.involved.namespace,
                     occ.record.involved.name, exc)
