"""Pooled keep-alive connections to upstream endpoints.

An idle pooled connection notices at once when the upstream closes it (``connection_lost``
removes it from the pool) or sends unsolicited bytes (it is closed). A request that fails on a
reused connection before any response byte arrives may be retried once on a fresh one by the
caller (the ``reused`` and ``got_bytes`` flags say when that is safe).

A response head is bounded (``ResponseLimits``, nginx's ``proxy_buffer_size``): the buffer that
holds it is judged whenever it outgrows the smaller limit, so it never holds more than the head
limit and one read; a head over a limit ends the exchange with ``ResponseHeadTooLarge`` and the
connection is dropped.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

import httptools

from webhook.proxy.headers import RESPONSE_HEADS, ResponseHead, scan_response_cached
from webhook.proxy.limits import ResponseLimits, response_head_problem
from webhook.spec.routetable import Endpoint

MAX_IDLE_PER_ENDPOINT = 512
IDLE_SECONDS = 30.0


class ResponseHeadTooLarge(Exception):
    """An upstream's response head broke a limit (the message says which)."""


class ResponseSink(Protocol):
    """What receives an upstream connection's events: the request being served."""

    def hold(self) -> None: ...
    def release(self) -> None: ...
    def on_upstream_head(self, status: int, rhead: ResponseHead, rest: bytes) -> None: ...
    def on_upstream_whole(self, rhead: ResponseHead, data: bytes, body_at: int) -> None: ...
    def on_upstream_body(self, data: bytes) -> None: ...
    def on_upstream_complete(self) -> None: ...
    def on_upstream_tunnel(self, data: bytes) -> None: ...
    def on_upstream_error(self, conn: UpstreamConn, exc: BaseException | None) -> None: ...
    def pause_client_reading(self) -> None: ...
    def resume_client_reading(self) -> None: ...


class UpstreamConn(asyncio.Protocol):
    """One connection to an upstream.

    The response parser only reports where the head and the message end; the head is handed
    over as one raw block and body bytes as they arrive, framing included, so a response costs
    two parser callbacks however many headers it has.
    """

    __slots__ = (
        "endpoint", "got_bytes", "head_buf", "head_done", "head_safe", "idle_since",
        "informational", "parser", "paused", "pool", "reusable", "reused", "sink", "transport",
        "tunnel",
    )

    def __init__(self, pool: Pool, endpoint: Endpoint) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: ResponseSink | None = None
        self.reused = False
        self.got_bytes = False
        self.reusable = True
        self.tunnel = False
        self.idle_since = 0  # the pool's sweep count when it was given back
        self.head_buf = b""
        self.head_done = False
        self.informational = False
        self.paused = False  # reading paused because the client is slow to take the response
        self.head_safe = pool.limits.safe  # a head buffer no longer than this breaks no limit

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:  # unsolicited bytes on an idle connection: unusable
            self.close()
            return
        self.got_bytes = True
        if self.tunnel:
            sink.on_upstream_tunnel(data)
            return
        if not self.head_done and not self.head_buf:
            # a whole simple response in this read, with a head seen (and parsed) before: the
            # parser is between messages and stays there
            end = data.find(b"\r\n\r\n")
            if 0 < end < self.head_safe:  # (a head cached under other limits is judged anew)
                rhead = RESPONSE_HEADS.get(data[:end + 2])
                if rhead is not None and rhead.simple \
                        and len(data) == end + 4 + (rhead.content_length or 0):
                    sink.on_upstream_whole(rhead, data, end + 4)
                    return
        sink.hold()  # everything this chunk produces goes to the client in one write
        try:
            if self.head_done:
                sink.on_upstream_body(data)
            else:
                buf = self.head_buf = self.head_buf + data
                if len(buf) > self.head_safe and self._head_refused(buf):
                    return
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.tunnel = True  # the bytes after the 101 head went out with it
        except httptools.HttpParserError as exc:
            self.reusable = False
            if self.sink is not None:
                self.sink.on_upstream_error(self, exc)
            self.close()
        finally:
            sink.release()

    def _head_refused(self, buf: bytes) -> bool:
        """Whether the head ``buf`` starts with breaks a limit; if so the response ends with
        ``ResponseHeadTooLarge`` and the connection is dropped."""
        problem = response_head_problem(self.pool.limits, buf)
        if problem is None:
            return False
        sink, self.sink = self.sink, None
        self.head_buf = b""
        self.abort()
        if sink is not None:
            sink.on_upstream_error(self, ResponseHeadTooLarge(problem))
        return True

    def eof_received(self) -> bool | None:
        self.reusable = False
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self.transport = None
        self.pool.forget(self)
        sink = self.sink
        if sink is not None:
            self.sink = None
            sink.on_upstream_error(self, exc)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.pause_client_reading()

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.resume_client_reading()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_headers_complete(self) -> None:
        parser = self.parser
        if not parser.should_keep_alive():
            self.reusable = False
        buf = self.head_buf
        end = buf.find(b"\r\n\r\n")
        if end + 4 > self.head_safe and self._head_refused(buf):
            raise ResponseHeadTooLarge  # stop parsing: the connection is dropped
        block, rest = buf[:end + 2], buf[end + 4:]
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.informational = True  # an interim response: dropped, the final one follows
            self.head_buf = rest
            return
        self.head_done = True
        self.head_buf = b""
        if self.sink is not None:
            self.sink.on_upstream_head(status, scan_response_cached(block), rest)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.head_done = False
        sink = self.sink
        if sink is not None:
            sink.on_upstream_complete()

    # -- used by the request ---------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def resume_reading(self) -> None:
        if self.paused:
            self.paused = False
            if self.transport is not None:
                self.transport.resume_reading()

    def reset_parser(self) -> None:
        """After a response without a body the parser cannot see (HEAD), start afresh."""
        self.parser = httptools.HttpResponseParser(self)
        self.head_buf = b""
        self.head_done = False

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Idle keep-alive connections per endpoint."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connect_timeout: float = 5.0,
                 limits: ResponseLimits | None = None) -> None:
        self.loop = loop
        self.connect_timeout = connect_timeout
        self.limits = limits or ResponseLimits()
        self.idle: dict[Endpoint, list[UpstreamConn]] = {}  # an Endpoint hashes as a tuple, in C
        self.epoch = 0  # sweeps so far: connections idle for two sweeps are closed
        self._sweeper: asyncio.TimerHandle | None = None

    def take(self, endpoint: Endpoint) -> UpstreamConn | None:
        conns = self.idle.get(endpoint)
        while conns:
            conn = conns.pop()
            if conn.transport is not None and conn.reusable:
                conn.reused = True
                conn.got_bytes = False
                return conn
        return None

    async def connect(self, endpoint: Endpoint) -> UpstreamConn:
        """A new connection; ``OSError`` on refusal, ``TimeoutError`` after the timeout."""
        async with asyncio.timeout(self.connect_timeout):
            _, proto = await self.loop.create_connection(
                lambda: UpstreamConn(self, endpoint), endpoint.host, endpoint.port
            )
        return proto

    def give_back(self, conn: UpstreamConn) -> None:
        conn.sink = None
        if conn.paused:
            conn.resume_reading()  # the response ended while its reader was slow: read again
        if conn.tunnel or not conn.reusable or conn.transport is None:
            conn.close()
            return
        conns = self.idle.get(conn.endpoint)
        if conns is None:
            conns = self.idle[conn.endpoint] = []
        elif len(conns) >= MAX_IDLE_PER_ENDPOINT:
            conn.close()
            return
        conn.idle_since = self.epoch
        conns.append(conn)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(IDLE_SECONDS / 2, self._sweep)

    def forget(self, conn: UpstreamConn) -> None:
        conns = self.idle.get(conn.endpoint)
        if conns and conn in conns:
            conns.remove(conn)

    def idle_count(self) -> int:
        return sum(len(c) for c in self.idle.values())

    def _sweep(self) -> None:
        """Close the connections idle since the sweep before last (idle 15 to 30 s)."""
        self._sweeper = None
        self.epoch += 1
        limit = self.epoch - 1
        for conns in list(self.idle.values()):
            for conn in [c for c in conns if c.idle_since < limit]:
                conns.remove(conn)
                conn.close()
        if self.idle_count():
            self._sweeper = self.loop.call_later(IDLE_SECONDS / 2, self._sweep)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conns in self.idle.values():
            for conn in conns:
                conn.close()
        self.idle.clear()
