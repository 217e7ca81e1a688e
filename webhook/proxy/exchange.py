"""One proxied request: route it, stream it upstream, stream the response back.

Callback-driven (no task per request): the client connection feeds request events in, the
upstream connection feeds response events in, and flow control pauses whichever side is ahead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webhook.proxy import headers as h
from webhook.proxy.balance import CANARY
from webhook.proxy.mirror import MIRROR_HEADER, MirrorCopy
from webhook.proxy.plan import RequestPlan
from webhook.proxy.table import Choice, LiveRoute
from webhook.proxy.upstream import UpstreamConn
from webhook.spec.routetable import Endpoint

if TYPE_CHECKING:
    from webhook.proxy.client import ClientConn

MAX_PENDING_BODY = 256 * 1024  # request bytes buffered while the upstream connection opens


class Exchange:
    """The state of one request; immutable defaults live on the class (fewer writes per request)."""

    route: LiveRoute | None = None
    version = ""
    choice: Choice | None = None
    endpoint: Endpoint | None = None
    conn: UpstreamConn | None = None
    body_pending: list[bytes] | None = None
    pending_size = 0
    req_done = False
    mirror_body: list[bytes] | None = None
    mirror_size = 0
    status = 0
    framing = -1
    responded = False
    retried = False
    upstream_error = False
    waiting_since = 0.0  # request sent, response awaited, since (loop time); 0: not waiting
    tunnel_early: list[bytes] | None = None
    until_close = False
    done = False

    def __init__(self, client: ClientConn, plan: RequestPlan, start: float) -> None:
        self.client = client
        self.ctx = client.ctx
        self.plan = plan
        self.head = plan.head
        self.keep_alive = plan.keep_alive
        self.start = start

    @property
    def is_head(self) -> bool:
        return self.plan.is_head

    # -- request side -----------------------------------------------------------------------
    def begin(self) -> None:
        ctx = self.ctx
        plan = self.plan
        if plan.head.expect_continue:
            self.client.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if plan.table is not ctx.table:
            plan.bind(ctx.table)
        route = plan.route
        if route is None:
            self.reply(404, "Not Found", f"no route for host {plan.host!r} and path {plan.path!r}")
            return
        self.route = route
        # header routes, then the sticky cookie, then the weight (LiveRoute.choose, unrolled
        # over what the plan already knows)
        choice = plan.header_choice
        if choice is None:
            held = plan.held
            if held is not None:
                choice = route.by_cookie[held]
            else:
                choice = route.by_weight[route.split.pick()]
        self.choice = choice
        version = self.version = choice.version
        ring = route.rings.get(version)
        if ring is None or not ring.items:
            self.reply(503, "Service Unavailable",
                       f"route {route.name!r} has no ready {version} endpoints")
            return
        endpoint = self.endpoint = ring.next()
        if plan.mirror_match and route.rings[CANARY].items and route.mirror_gate is not None \
                and route.mirror_gate():
            if ctx.mirror.has_room():
                self.mirror_body = []
            else:
                ctx.mirror.drop(route.name)  # decided before any copy is made: costs nothing
        conn = ctx.pool.take(endpoint)
        if conn is not None:
            self.attach(conn, self.start)
        else:
            ctx.loop.create_task(self._connect(endpoint))

    async def _connect(self, endpoint: Endpoint) -> None:
        try:
            conn = await self.ctx.pool.connect(endpoint)
        except TimeoutError:
            self.fail(504, "Gateway Timeout", f"connecting to upstream {endpoint} timed out after "
                      f"{self.ctx.options.connect_timeout:g}s")
            return
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self.fail(502, "Bad Gateway", f"cannot connect to upstream {endpoint}: {reason}")
            return
        if self.done:
            self.ctx.pool.give_back(conn)
            return
        self.attach(conn)

    def attach(self, conn: UpstreamConn, now: float = 0.0) -> None:
        self.conn = conn
        conn.sink = self
        if conn.transport is not None:
            conn.transport.write(self.client.upstream_head(self.plan))
        if self.body_pending:
            for data in self.body_pending:
                conn.write(data)
            self.body_pending = None
            self.pending_size = 0
            self.client.resume_reading(1)
        if self.req_done:
            if self.head.chunked:
                conn.write(h.LAST_CHUNK)
            self.waiting_since = now or self.ctx.loop.time()

    def request_body(self, data: bytes) -> None:
        if self.mirror_body is not None:
            self.mirror_size += len(data)
            if self.mirror_size > self.ctx.mirror.max_body:
                self.mirror_body = None
                if self.route is not None:
                    self.ctx.mirror.drop(self.route.name)
            else:
                self.mirror_body.append(data)
        if self.head.chunked:
            data = h.chunk(data)
        conn = self.conn
        if conn is not None:
            conn.write(data)
        elif not self.done:
            if self.body_pending is None:
                self.body_pending = []
            self.body_pending.append(data)
            self.pending_size += len(data)
            if self.pending_size > MAX_PENDING_BODY:
                self.client.pause_reading(1)

    def request_complete(self) -> None:
        self.req_done = True
        if self.conn is not None:
            if self.head.chunked:
                self.conn.write(h.LAST_CHUNK)
            self.waiting_since = self.ctx.loop.time()
        if self.mirror_body is not None and self.route is not None and not self.done:
            self._submit_mirror(self.route)

    def _submit_mirror(self, route: LiveRoute) -> None:
        endpoint = route.endpoint(CANARY)
        assert self.mirror_body is not None
        if endpoint is None:
            return
        body = b"".join(self.mirror_body)
        self.mirror_body = None
        has_body = bool(body) or self.head.content_length is not None or self.head.chunked
        plan = self.plan
        data = h.request_head(plan.method, plan.target, self.head, self.client.peer,
                              MIRROR_HEADER, length=len(body) if has_body else None,
                              trusted=self.client.trusted)
        self.ctx.mirror.submit(MirrorCopy(route.name, endpoint, data, body, plan.is_head))

    def tunnel_data(self, data: bytes) -> None:
        """Bytes the client sent after an Upgrade request."""
        if self.framing == h.FRAME_TUNNEL and self.conn is not None:
            self.conn.write(data)
        elif self.tunnel_early is None:
            self.tunnel_early = [data]
        else:
            self.tunnel_early.append(data)

    # -- response side ----------------------------------------------------------------------
    def hold(self) -> None:
        self.client.batching = True

    def release(self) -> None:
        self.client.flush()

    def on_upstream_whole(self, rhead: h.ResponseHead, data: bytes, body_at: int) -> None:
        """A whole ``simple`` response in one read: one write to the client, then done."""
        conn = self.conn
        assert conn is not None and self.choice is not None
        self.waiting_since = 0.0
        self.status = rhead.status
        self.framing = h.FRAME_LENGTH
        self.responded = True
        keep = self.keep_alive and not self.ctx.draining and self.head.upgrade is None
        self.keep_alive = keep
        out = h.client_head_cached(rhead, self.choice.extra, keep)
        client = self.client
        out = out + data[body_at:] if len(data) > body_at else out
        if client.transport is not None and not client.batching:
            client.transport.write(out)
        else:
            client.write(out)
        self.conn = None
        if not self.req_done:
            conn.reusable = False  # the upstream answered before the body ended
            self.keep_alive = False
        self.ctx.pool.give_back(conn)
        self._finish()

    def on_upstream_head(self, status: int, rhead: h.ResponseHead, rest: bytes) -> None:
        conn = self.conn
        assert conn is not None
        self.waiting_since = 0.0
        self.status = status
        if status == 101 and self.head.upgrade is None:
            self._drop_upstream()
            self.fail(502, "Bad Gateway", f"upstream {self.endpoint} switched protocols "
                      "unasked")
            return
        framing = h.response_framing(status, rhead, self.plan.is_head, self.plan.http11)
        self.framing = framing
        keep = self.keep_alive and not self.ctx.draining and framing != h.FRAME_CLOSE
        if self.head.upgrade is not None and framing != h.FRAME_TUNNEL:
            keep = False  # a refused upgrade: the client may already be sending the new protocol
        self.keep_alive = keep
        self.until_close = framing in (h.FRAME_RECHUNK, h.FRAME_CLOSE)
        assert self.choice is not None
        extra = self.choice.extra
        self.responded = True
        client = self.client
        client.write(h.client_head(rhead, framing, extra, keep))
        if framing == h.FRAME_TUNNEL:
            client.start_tunnel(conn)
            if rest:
                client.write(rest)
            for data in self.tunnel_early or ():
                conn.write(data)
            self.tunnel_early = None
            self._record()
            self.done = True
        elif self.plan.is_head:
            conn.reset_parser()
            self.on_upstream_complete()
        elif rest:
            client.write(h.chunk(rest) if framing == h.FRAME_RECHUNK else rest)

    def on_upstream_body(self, data: bytes) -> None:
        self.client.write(h.chunk(data) if self.framing == h.FRAME_RECHUNK else data)

    def on_upstream_complete(self) -> None:
        if self.done:
            return
        conn = self.conn
        self.conn = None
        if conn is not None:
            if not self.req_done:
                conn.reusable = False  # the upstream answered before the body ended
                self.keep_alive = False
            self.ctx.pool.give_back(conn)
        self._finish()

    def on_upstream_tunnel(self, data: bytes) -> None:
        self.client.write(data)

    def on_upstream_error(self, conn: UpstreamConn, exc: BaseException | None) -> None:
        if self.framing == h.FRAME_TUNNEL:
            self.client.close()
            return
        if self.done or conn is not self.conn:
            return
        self._drop_upstream()
        if self.responded:
            if self.until_close and exc is None:
                # a body delimited by the upstream closing its connection has ended
                if self.framing == h.FRAME_RECHUNK:
                    self.client.write(h.LAST_CHUNK)
                self._finish()
                return
            self.upstream_error = True
            self.keep_alive = False
            self._finish()  # truncated response: the client sees the connection close
            return
        if (conn.reused and not conn.got_bytes and not self.retried and self.req_done
                and not self.head.chunked and not self.head.content_length):
            self.retried = True  # a pooled connection the upstream had just closed
            self.waiting_since = 0.0
            assert self.endpoint is not None
            self.ctx.loop.create_task(self._connect(self.endpoint))
            return
        what = "closed the connection" if exc is None else f"failed: {exc}"
        self.fail(502, "Bad Gateway", f"upstream {self.endpoint} {what} before responding")

    def _drop_upstream(self) -> None:
        """Abort the upstream connection: it is in the middle of this request."""
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.sink = None
            conn.abort()

    def check_timeout(self, now: float) -> None:
        """Called by the housekeeper: answer 504 when the upstream is too slow to respond."""
        since = self.waiting_since
        if since and now - since > self.ctx.options.upstream_timeout:
            self._timeout()

    def _timeout(self) -> None:
        self.waiting_since = 0.0
        if self.responded or self.done:
            return
        self._drop_upstream()
        self.fail(504, "Gateway Timeout", f"upstream {self.endpoint} did not respond within "
                  f"{self.ctx.options.upstream_timeout:g}s")

    def pause_client_reading(self) -> None:
        self.client.pause_reading(2)

    def resume_client_reading(self) -> None:
        self.client.resume_reading(2)

    def pause_upstream_reading(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None and not conn.paused:
            conn.paused = True
            conn.transport.pause_reading()

    def resume_upstream_reading(self) -> None:
        conn = self.conn
        if conn is not None:
            conn.resume_reading()

    # -- endings ----------------------------------------------------------------------------
    def fail(self, status: int, reason: str, message: str) -> None:
        """An upstream failure answered by the proxy itself (502, 504)."""
        self.upstream_error = True
        self.reply(status, reason, message)

    def refuse(self, status: int, reason: str, message: str) -> None:
        """The request turned out malformed (its body's framing) before any answer: drop the
        upstream side (it got part of a broken request), answer, and end the connection."""
        self._drop_upstream()
        self.mirror_body = None
        self.waiting_since = 0.0
        self.keep_alive = False
        self.reply(status, reason, message)

    def reply(self, status: int, reason: str, message: str) -> None:
        if self.done:
            return
        self.status = status
        self.responded = True
        if not self.req_done and (self.head.chunked or (self.head.content_length or 0) > 0):
            self.keep_alive = False  # the unread rest of the body would be taken for a request
        keep = self.keep_alive and not self.ctx.draining
        self.keep_alive = keep
        extra = self.ctx.version_headers.get(self.version, b"") if self.version else b""
        self.client.write(h.simple_response(status, reason, message, extra, keep))
        self._finish()

    def _record(self, now: float = 0.0) -> None:
        route = self.route
        version = self.version
        if route is not None and version:
            rec = route.recorders.get(version)
            if rec is None:
                rec = route.recorders[version] = self.ctx.metrics.recorder(route.name, version)
            now = now or self.ctx.loop.time()
            rec.add(self.status, now - self.start, self.upstream_error,
                    int(now + self.ctx.clock_offset))

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.waiting_since = 0.0
        now = self.ctx.loop.time()
        self._record(now)
        self.client.exchange_done(self, now)

    def abandon(self) -> None:
        """The client went away: drop the upstream side."""
        if self.done:
            return
        self._drop_upstream()
        if not self.responded:
            self.status = 499
        self.keep_alive = False
        self.done = True
        self.waiting_since = 0.0
        if self.framing != h.FRAME_TUNNEL:
            self._record()

