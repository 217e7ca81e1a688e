"""Pod events as the kubelet (and the scheduler's binding) record them.

Bodies are ``controllers.events.event_body``'s with the kubelet's ``source.host``, and the
container's ``fieldPath`` (``spec.containers{app}``) for container events. Like upstream's
kubelet (``eventRecordQPS`` 50, ``eventBurst`` 100, a bounded queue that drops when full),
recording never blocks a pod: events queue and are written at most 50 a second after a burst
of 100, so 300 pods starting at once do not slow each other down with their Scheduled, Pulled,
Created and Started events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from webhook.cluster.controllers.events import event_body

log = logging.getLogger(__name__)

QPS = 50.0
BURST = 100
QUEUE = 1000


class CreateAPI(Protocol):
    async def create(self, resource: str, namespace: str | None, obj: Mapping[str, Any], *,
                     user: str = ...) -> dict[str, Any]: ...


def container_path(name: str, init: bool = False) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"


class TokenBucket:
    def __init__(self, qps: float, burst: int, clock: Callable[[], float]) -> None:
        self.qps, self.burst, self.clock = qps, float(burst), clock
        self.tokens = float(burst)
        self.at = clock()

    def wait_time(self) -> float:
        """Seconds until one token is there (0: take it now)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.qps)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.qps


class PodEvents:
    """A rate-limited recorder for one component (``kubelet`` or ``default-scheduler``)."""

    def __init__(self, api: CreateAPI, component: str, host: str, user: str,
                 clock: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self.api = api
        self.component = component
        self.host = host
        self.user = user
        self.clock = clock
        self.bucket = TokenBucket(QPS, BURST, monotonic)
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0
        self.dropped = 0

    def record(self, pod: Mapping[str, Any], etype: str, reason: str, message: str,
               field_path: str = "") -> None:
        if len(self._queue) >= QUEUE:
            self.dropped += 1
            return
        now = max(self.clock(), self._last + 1e-6)
        self._last = now
        involved = {"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}}
        body = event_body(involved, etype, reason, message, component=self.component, now=now)
        if self.host:
            body["source"]["host"] = self.host
            body["reportingInstance"] = self.host
        if field_path:
            body["involvedObject"]["fieldPath"] = field_path
        self._queue.append(body)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            delay = self.bucket.wait_time()
            if delay:
                await asyncio.sleep(delay)
                continue
            body = self._queue.popleft()
            try:
                await self.api.create("events", body["metadata"]["namespace"], body,
                                      user=self.user)
            except Exception as exc:  # recording never fails a pod (upstream drops too)
                log.debug("event %s not recorded: %s", body.get("reason"), exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
