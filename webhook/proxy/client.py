"""The client side of the proxy: an asyncio Protocol parsing HTTP/1.x with httptools.

Requests on one connection are served in order. A pipelined request that arrives while another
is in flight is parsed and held (reading pauses) until its turn. After an accepted Upgrade the
connection becomes a raw tunnel to the upstream.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

from webhook.proxy import headers as h
from webhook.proxy.context import ProxyContext
from webhook.proxy.exchange import Exchange
from webhook.proxy.plan import (
    MAX_CACHED_HEAD,
    PLANS,
    HeadBlock,
    RequestPlan,
    known,
    remember,
    remember_block,
)
from webhook.proxy.upstream import UpstreamConn

PAUSE_QUEUE = 4  # reasons for not reading the client: 1 body buffered, 2 upstream full, 4 queue


class _Held:
    """A pipelined request parsed while an earlier one is still being answered."""

    __slots__ = ("body", "complete", "exchange")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.body: list[bytes] = []
        self.complete = False


class ClientConn(asyncio.Protocol):
    __slots__ = (
        "batching",
        "chunk",
        "ctx",
        "current",
        "headers",
        "held",
        "last_active",
        "last_head",
        "last_plan",
        "mid",
        "out",
        "parser",
        "paused",
        "peer",
        "receiving",
        "transport",
        "tunnel",
        "url",
        "whole",
    )

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = b""
        self.url = b""
        self.headers: h.Headers = []
        self.current: Exchange | None = None  # the request being answered
        self.receiving: Exchange | _Held | None = None  # the request whose body is arriving
        self.held: collections.deque[_Held] = collections.deque()
        self.paused = 0
        self.tunnel: UpstreamConn | None = None
        self.mid = False  # the parser is inside a message (between its first byte and its end)
        self.chunk = b""  # the read being parsed
        self.whole = False  # the message being parsed started at the read's first byte
        self.last_plan: RequestPlan | None = None  # the plan of the last request sent upstream
        self.last_head = b""  # and the head it was sent with
        self.last_active = 0.0
        self.batching = False
        self.out: list[bytes] = []

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode() if peer else b"unknown"
        self.last_active = self.ctx.loop.time()
        self.ctx.clients.add(self)

    def data_received(self, data: bytes) -> None:
        if not self.mid and self.current is None and len(data) <= MAX_CACHED_HEAD:
            # a head seen before, whole and alone in this read: no need to parse it again
            plan = PLANS.get(data) or known(data)
            if plan is not None and self.tunnel is None:
                self._start_planned(plan)
                return
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        if isinstance(self.receiving, Exchange) and self.receiving.head.upgrade is not None \
                and self.receiving.req_done:
            self.receiving.tunnel_data(data)
            return
        self.chunk = data
        self.whole = not self.mid
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0]:]
            if isinstance(self.receiving, Exchange):
                self.receiving.req_done = True
                if rest:
                    self.receiving.tunnel_data(rest)
        except httptools.HttpParserError as exc:
            self._bad_request(str(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.ctx.clients.discard(self)
        self.transport = None
        if self.tunnel is not None:
            self.tunnel.close()
            self.tunnel = None
        if self.current is not None:
            current, self.current = self.current, None
            current.abandon()
            self._settled()
        self.held.clear()

    def pause_writing(self) -> None:
        if self.current is not None:
            self.current.pause_upstream_reading()
        elif self.tunnel is not None and self.tunnel.transport is not None:
            self.tunnel.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.current is not None:
            self.current.resume_upstream_reading()
        elif self.tunnel is not None and self.tunnel.transport is not None:
            self.tunnel.transport.resume_reading()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.mid = True
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        block = HeadBlock(self.headers)
        plan = RequestPlan(parser.get_method(), self.url, block, parser.should_keep_alive(),
                           parser.get_http_version() == "1.1")
        chunk = self.chunk
        if self.whole and chunk.endswith(b"\r\n\r\n") \
                and chunk.find(b"\r\n\r\n") == len(chunk) - 4:  # this read was exactly this head
            remember(chunk, plan)
            remember_block(chunk[chunk.find(b"\r\n") + 2:], block)
        self.whole = False
        exchange = Exchange(self, plan, self.ctx.loop.time())
        self.last_active = exchange.start
        if self.current is None:
            self.current = exchange
            self.receiving = exchange
            self.ctx.in_flight += 1
            exchange.begin()
        else:
            held = _Held(exchange)
            self.held.append(held)
            self.receiving = held
            self.pause_reading(PAUSE_QUEUE)

    def on_body(self, body: bytes) -> None:
        target = self.receiving
        if isinstance(target, Exchange):
            target.request_body(body)
        elif target is not None:
            target.body.append(body)

    def on_message_complete(self) -> None:
        self.mid = False
        target = self.receiving
        if isinstance(target, Exchange):
            if target.head.upgrade is None:
                self.receiving = None
            target.request_complete()
        elif target is not None:
            target.complete = True
            self.receiving = None

    def _start_planned(self, plan: RequestPlan) -> None:
        """A complete request without a body whose plan is known: start it at once."""
        ctx = self.ctx
        exchange = Exchange(self, plan, ctx.loop.time())
        self.last_active = exchange.start
        self.current = exchange
        ctx.in_flight += 1
        exchange.req_done = True  # nothing follows the head
        exchange.begin()
        if exchange.mirror_body is not None:
            exchange.request_complete()  # the copy goes now

    # -- used by the exchange --------------------------------------------------------------
    def upstream_head(self, plan: RequestPlan) -> bytes:
        """The head sent upstream for ``plan``, made once per plan and connection."""
        if plan is not self.last_plan:
            self.last_plan = plan
            self.last_head = plan.upstream_head(self.peer)
        return self.last_head

    def write(self, data: bytes) -> None:
        if self.batching:
            self.out.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    def flush(self) -> None:
        """End a batch: send what the batch wrote in one call."""
        self.batching = False
        out = self.out
        if out:
            self.out = []
            if self.transport is not None:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def close(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self, reason: int) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def resume_reading(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None:
            self.transport.resume_reading()

    def start_tunnel(self, conn: UpstreamConn) -> None:
        self.tunnel = conn
        self.receiving = None

    def exchange_done(self, exchange: Exchange, now: float) -> None:
        if exchange is not self.current:
            return
        self.current = None
        self.last_active = now
        if not exchange.keep_alive or self.ctx.draining:
            self.held.clear()
            if self.receiving is exchange:
                self.receiving = None
            self.close()
            self._settled()
            return
        if self.receiving is exchange:
            # answered before its body arrived: the rest of the body is discarded
            self.receiving = None
        self.ctx.in_flight -= 1  # (_settled: not draining, so nobody waits for zero)
        if self.paused:
            self.resume_reading(1 | 2)  # pauses for this request's body are over
        if self.held:
            self._start_held(self.held.popleft())
        elif self.paused:
            self.resume_reading(PAUSE_QUEUE)

    def _start_held(self, held: _Held) -> None:
        exchange = held.exchange
        exchange.start = self.ctx.loop.time()
        self.current = exchange
        if self.receiving is held:
            self.receiving = exchange
        self.ctx.in_flight += 1
        exchange.begin()
        for data in held.body:
            exchange.request_body(data)
        if held.complete:
            exchange.request_complete()
        if not self.held:
            self.resume_reading(PAUSE_QUEUE)

    def _settled(self) -> None:
        ctx = self.ctx
        ctx.in_flight -= 1
        if ctx.in_flight == 0 and ctx.draining:
            ctx.idle_event.set()

    def _bad_request(self, why: str) -> None:
        if self.current is None:
            self.write(h.simple_response(400, "Bad Request", f"malformed HTTP request: {why}",
                                         keep_alive=False))
        self.close()

    def idle_for(self, now: float) -> float:
        """Seconds without a request in flight; 0 while one is."""
        if self.current is not None or self.tunnel is not None:
            return 0.0
        return now - self.last_active
