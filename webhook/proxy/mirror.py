"""Detached mirroring: copies of requests go to the canary, their responses are thrown away.

The primary request only ever appends to a bounded queue (``submit`` never waits); a fixed number
of sender tasks drain it over their own connection pool, each copy under a short timeout. A full
queue drops the copy and counts it; a slow or dead mirror target therefore costs the primary
path nothing but the enqueue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from dataclasses import dataclass

from webhook.proxy.headers import ResponseHead
from webhook.proxy.limits import ResponseLimits
from webhook.proxy.metrics import Metrics
from webhook.proxy.upstream import Pool, UpstreamConn
from webhook.spec.routetable import Endpoint

MIRROR_HEADER = b"x-canarist-mirror: 1\r\n"


@dataclass(frozen=True, slots=True)
class MirrorCopy:
    route: str
    endpoint: Endpoint
    head: bytes  # request line and headers, x-canarist-mirror included, Content-Length exact
    body: bytes
    head_request: bool = False


class _Discard:
    """Receives a mirrored response and only notes when it ends."""

    __slots__ = ("done", "head_request")

    def __init__(self, done: asyncio.Future[bool], head_request: bool) -> None:
        self.done = done
        self.head_request = head_request

    def hold(self) -> None:
        pass

    def release(self) -> None:
        pass

    def on_upstream_head(self, status: int, rhead: ResponseHead, rest: bytes) -> None:
        if self.head_request and not self.done.done():
            self.done.set_result(True)

    def on_upstream_whole(self, rhead: ResponseHead, data: bytes, body_at: int) -> None:
        if not self.done.done():
            self.done.set_result(True)

    def on_upstream_body(self, data: bytes) -> None:
        pass

    def on_upstream_complete(self) -> None:
        if not self.done.done():
            self.done.set_result(True)

    def on_upstream_tunnel(self, data: bytes) -> None:
        pass

    def on_upstream_error(self, conn: UpstreamConn, exc: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_result(False)

    def pause_client_reading(self) -> None:
        pass

    def resume_client_reading(self) -> None:
        pass


class Mirror:
    """A bounded queue of copies and the tasks that send them."""

    def __init__(self, metrics: Metrics, *, queue_size: int = 1024, senders: int = 16,
                 timeout: float = 2.0, max_body: int = 1 << 20,
                 response_limits: ResponseLimits | None = None) -> None:
        self.metrics = metrics
        self.queue_size = queue_size
        self.timeout = timeout
        self.max_body = max_body
        self.response_limits = response_limits
        self._senders_wanted = senders
        self._queue: collections.deque[MirrorCopy] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: Pool | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._pool = Pool(loop, connect_timeout=self.timeout, limits=self.response_limits)
        self._wakeup = asyncio.Event()
        self._tasks = [loop.create_task(self._sender()) for _ in range(self._senders_wanted)]

    def has_room(self) -> bool:
        return self._wakeup is not None and len(self._queue) < self.queue_size

    def submit(self, copy: MirrorCopy) -> None:
        """Queue a copy, or drop it (and count the drop) when the queue is full."""
        if len(self._queue) >= self.queue_size or self._wakeup is None:
            self.metrics.mirror_event(copy.route, "dropped")
            return
        self._queue.append(copy)
        self._wakeup.set()

    def drop(self, route: str) -> None:
        """Count a copy that could not be made (a body over the size bound)."""
        self.metrics.mirror_event(route, "dropped")

    async def _sender(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            copy = self._queue.popleft()
            ok = await self._send(copy)
            self.metrics.mirror_event(copy.route, "sent" if ok else "failed")

    async def _send(self, copy: MirrorCopy) -> bool:
        assert self._pool is not None
        pool = self._pool
        conn = pool.take(copy.endpoint)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        try:
            async with asyncio.timeout(self.timeout):
                if conn is None:
                    conn = await pool.connect(copy.endpoint)
                conn.sink = _Discard(done, copy.head_request)
                conn.write(copy.head + copy.body if copy.body else copy.head)
                ok = await done
        except (OSError, TimeoutError):
            if conn is not None:
                conn.sink = None
                conn.abort()
            return False
        if copy.head_request:
            conn.reset_parser()
        if ok:
            pool.give_back(conn)
        return ok

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._pool is not None:
            self._pool.close()
