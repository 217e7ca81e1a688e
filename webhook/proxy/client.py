"""The client side of the proxy: an asyncio Protocol parsing HTTP/1.x with httptools.

Requests on one connection are served in order. A pipelined request that arrives while another
is in flight is parsed and held (reading pauses) until its turn. After an accepted Upgrade the
connection becomes a raw tunnel to the upstream.

A request head is bounded where it is read: the parser is never fed more than the head's byte
budget (``--max-head-bytes``), and the other limits are checked when the head ends or a read
ends inside it. A refused request is answered (400, 408, 414, 431) and the connection closed
the way nginx's lingering close does it: the write side is shut, what the client still sends
is read and thrown away for up to ``LINGER_SECONDS``, so that the answer is not lost to a reset.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

from webhook.proxy import headers as h
from webhook.proxy.clientio import LINGER_SECONDS, ClientIO, Held
from webhook.proxy.context import ProxyContext
from webhook.proxy.exchange import Exchange
from webhook.proxy.limits import Refusal, head_refusal, over_budget
from webhook.proxy.plan import (
    PLANS,
    HeadBlock,
    RequestPlan,
    known,
    remember,
    remember_block,
)
from webhook.proxy.upstream import UpstreamConn

PAUSE_QUEUE = 4  # reasons for not reading the client: 1 body buffered, 2 upstream full, 4 queue


class _Stop(Exception):
    """Raised in a parser callback to stop parsing a refused request."""


class ClientConn(ClientIO):
    __slots__ = (
        "checked", "chunk", "current", "head_room", "head_since", "headers", "heads", "held",
        "in_head", "last_head", "last_plan", "mid", "parser", "receiving", "refusal", "tunnel",
        "url", "whole",
    )

    def __init__(self, ctx: ProxyContext) -> None:
        super().__init__(ctx)
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: h.Headers = []
        self.current: Exchange | None = None  # the request being answered
        self.receiving: Exchange | Held | None = None  # the request whose body is arriving
        self.held: collections.deque[Held] = collections.deque()
        self.tunnel: UpstreamConn | None = None
        self.mid = False  # the parser is inside a message (between its first byte and its end)
        self.chunk = b""  # the read being parsed
        self.whole = False  # the message being parsed started at the read's first byte
        self.last_plan: RequestPlan | None = None  # the plan of the last request sent upstream
        self.last_head = b""  # and the head it was sent with
        self.in_head = False  # the parser is inside a request head
        self.head_room = ctx.limits.head_bytes  # what that head may still feed the parser
        self.heads = 0  # heads completed on this connection
        self.checked = 0  # header fields of the head in progress checked against the limits
        self.head_since = 0.0  # waiting for a head to end since (loop time); 0: not waiting
        self.refusal: bytes | None = None  # the answer to a refused request, once the one
        # being answered is done

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode() if peer else b"unknown"
        ctx = self.ctx
        if peer and ctx.trusted_networks:
            self.trusted = ctx.trusts(str(peer[0]))
        self.last_active = self.head_since = ctx.loop.time()  # the first head is awaited
        ctx.clients.add(self)

    def data_received(self, data: bytes) -> None:
        size = len(data)
        if not self.mid and self.current is None and size <= self.ctx.fast_max:
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
        if self.linger_until:
            return  # refused: what the client still sends is thrown away
        if self.in_head or not self.mid:  # this read starts inside a head, or before one
            if size > self.head_room:
                self._feed_head(data)
                return
            heads = self.heads
            self.chunk = data  # (what _feed does, inline on the path of every new head)
            self.whole = not self.mid
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                self._upgraded(data, upgrade.args[0])
            except httptools.HttpParserError as exc:
                self._parse_error(exc)
            if self.in_head and not self.linger_until:
                self._ends_in_head(data, heads)
            return
        if self._feed(data):
            # a head began inside this read, after a body: its bytes there (at most one read)
            # are not counted, those of the next reads are
            self._inside_head()

    def _ends_in_head(self, data: bytes, heads: int) -> None:
        """A read that started inside (or before) a head ended inside one."""
        if self.heads == heads:  # the same head goes on: all of the read was head
            self.head_room -= len(data)
        self._inside_head()

    def _feed_head(self, data: bytes) -> None:
        """A read longer than what the head in progress may still feed the parser."""
        room = self.head_room
        piece = data[:room]
        heads = self.heads
        if self._feed(piece):
            if self.heads == heads:  # the same head goes on: its budget is spent
                self.head_room = 0
                self._refuse(over_budget(self.ctx.limits, self.url))
                return
            self._inside_head()
        if not self.linger_until:
            self.data_received(data[room:])

    def _inside_head(self) -> None:
        """A read ended inside a head: check what arrived of it, and start its timer."""
        refusal = head_refusal(self.ctx.limits, self.url, self.headers, self.checked)
        if refusal is not None:
            self._refuse(refusal)
            return
        self.checked = len(self.headers)
        if not self.head_since:
            self.head_since = self.ctx.loop.time()

    def _feed(self, data: bytes) -> bool:
        """Parse a read; True when it ended inside a request head."""
        self.chunk = data
        self.whole = not self.mid
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgraded(data, upgrade.args[0])
        except httptools.HttpParserError as exc:
            self._parse_error(exc)
        return self.in_head and not self.linger_until

    def _upgraded(self, data: bytes, at: int) -> None:
        """The parser stopped at ``at`` after an Upgrade request: the rest is the tunnel's."""
        rest = data[at:]
        if isinstance(self.receiving, Exchange):
            self.receiving.req_done = True
            if rest:
                self.receiving.tunnel_data(rest)

    def _parse_error(self, exc: httptools.HttpParserError) -> None:
        last = self.held[-1].exchange if self.held else self.current
        if not self.mid and last is not None and not last.keep_alive:
            # bytes after a request that ends the connection: not for us to read
            self.mid = True
            self.linger_until = self.ctx.loop.time() + LINGER_SECONDS
        elif not self.linger_until:  # (else a callback stopped a refused request)
            self._refuse((400, "Bad Request", f"malformed HTTP request: {exc}"))

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
        if self.linger_until:
            raise _Stop  # the rest of a read that came after the connection ended
        self.mid = True
        self.in_head = True
        self.checked = 0
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_room = self.ctx.limits.head_bytes  # (the next head's budget is whole)
        self.heads += 1
        self.head_since = 0.0
        chunk = self.chunk
        headers = self.headers
        # a head that came in one read no longer than ``small_head`` breaks no limit
        if not self.whole or len(chunk) > self.ctx.small_head:
            refusal = head_refusal(self.ctx.limits, self.url, headers, self.checked)
            if refusal is not None:
                self._refuse(refusal)
                raise _Stop
        parser = self.parser
        block = HeadBlock(headers)
        plan = RequestPlan(parser.get_method(), self.url, block, parser.should_keep_alive(),
                           parser.get_http_version() == "1.1")
        if plan.problem is not None:
            self._refuse((400, "Bad Request", plan.problem))
            raise _Stop
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
            held = Held(exchange)
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
        self.head_since = 0.0
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
            self.last_head = plan.upstream_head(self.peer, self.trusted)
        return self.last_head

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
            if self.linger_until:  # refused while this request was answered
                if self.refusal is not None:
                    self.write(self.refusal)
                    self.refusal = None
                self.linger()
            else:
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

    def _start_held(self, held: Held) -> None:
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

    def _refuse(self, refusal: Refusal | None) -> None:
        """Answer a request that breaks the protocol or a limit, then close (lingering).

        Nothing more is parsed. The requests before it are answered first: with none left the
        answer goes at once; when the refused request is the one being answered (its body is
        malformed) and no answer has started, it gets this answer instead; else the answer
        follows the last request before it, which then ends the connection.
        """
        assert refusal is not None
        status, reason, message = refusal
        self.mid = True  # (so no read takes the planned-head shortcut either)
        self.linger_until = self.ctx.loop.time() + LINGER_SECONDS
        if self.transport is None or self.transport.is_closing():
            return  # closed after an answer already
        current = self.current
        if self.held and self.receiving is self.held[-1]:
            self.held.pop()  # refused while its body arrived: it never starts
        refused_current = current is not None and self.receiving is current
        self.receiving = None
        last = self.held[-1].exchange if self.held else current
        if last is None:
            self.write(h.simple_response(status, reason, message, keep_alive=False))
            self.linger()
        elif refused_current and not last.responded:
            last.refuse(status, reason, message)
        else:
            if not refused_current:
                self.refusal = h.simple_response(status, reason, message, keep_alive=False)
            last.keep_alive = False

    def head_timed_out(self) -> None:
        """The head did not arrive within the header timeout: 408 if part of it came (as
        Apache's mod_reqtimeout does; nginx closes without one), then close."""
        if self.mid and self.current is None and not self.linger_until:
            self.write(h.simple_response(408, "Request Timeout", "request head not received "
                                         f"within {self.ctx.options.header_timeout:g}s",
                                         keep_alive=False))
        self.close()

    def idle_for(self, now: float) -> float:
        """Seconds without a request in flight; 0 while one is."""
        if self.current is not None or self.tunnel is not None:
            return 0.0
        return now - self.last_active
