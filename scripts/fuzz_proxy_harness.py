"""What ``scripts/fuzz_proxy.py`` (atheris) and tests/proxy/test_fuzz_requests.py
(hypothesis) drive: bytes from a client, cut into reads, through the real ``ClientConn`` (fast
paths, httptools, limits, plans, exchanges) with transports that record what is written, and
upstreams that answer every request they get.

What must hold for any input and any cut into reads (``check``):

- nothing raises out of the protocol;
- the client only ever gets HTTP/1.1 responses, and after a refusal nothing more;
- the parser never holds more of a head than its budget (plus the read a head began in);
- every upstream connection that was not aborted got well-formed requests, each with one Host
  (when the client sent one), the proxy's own X-Forwarded-For and no hop-by-hop field;
- the same bytes in one read or in several give the same answers and the same upstream bytes
  (except where a head limit was hit, as where a head's bytes are counted depends on the
  reads; and but for what depends on when the bytes after an answer that closes came).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools

from webhook.proxy.client import ClientConn
from webhook.proxy.context import ProxyContext, ProxyOptions
from webhook.proxy.headers import HOP_BY_HOP
from webhook.proxy.table import LiveTable, static_endpoints
from webhook.proxy.upstream import UpstreamConn
from webhook.spec.routetable import parse_route_table

ROUTES = """
routes:
- name: web
  hosts: [web, "*.example"]
  stable: {endpoints: ["127.0.0.2:8080"]}
  canary: {endpoints: ["127.0.0.3:8080"]}
  weight: 0
  headerRoutes: [{name: beta, match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]}]
- name: any
  pathPrefix: /any
  stable: {endpoints: ["127.0.0.4:8080"]}
"""
# small limits, so that short inputs reach them
OPTIONS = ProxyOptions(max_uri_bytes=256, max_field_bytes=256, max_fields=12,
                       max_head_bytes=2048)
PEER = "127.0.0.9"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HEAD_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
LIMIT_STATUSES = (b"HTTP/1.1 414 ", b"HTTP/1.1 431 ")


class Wire:
    """A transport that keeps what is written to it and how it ended."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = self.eof = self.aborted = False

    def write(self, data: bytes) -> None:
        assert not (self.closed or self.eof), "a write after the connection ended"
        self.data += data

    def get_extra_info(self, key: str, default: Any = None) -> Any:
        return (PEER, 40000) if key == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed


class Upstream:
    """An upstream connection's far end: reads the requests sent to it and answers each."""

    def __init__(self, conn: UpstreamConn) -> None:
        self.conn = conn
        self.wire = Wire()
        conn.connection_made(self.wire)  # type: ignore[arg-type]
        self.parser = httptools.HttpRequestParser(self)
        self.fed = 0
        self.requests: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []
        self.whole: list[bytes] = []  # each request that arrived whole: head and body, unchunked
        self.url = b""
        self.body = b""
        self.complete = 0  # requests that arrived whole
        self.answered = 0
        self.broken: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []

    def reset(self) -> None:
        self.wire.data.clear()
        self.parser = httptools.HttpRequestParser(self)
        self.fed = self.complete = self.answered = 0
        self.requests.clear()
        self.whole.clear()
        self.url = self.body = b""
        self.headers = []
        self.broken = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.requests.append((self.parser.get_method(), self.headers))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete += 1
        method, headers = self.requests[-1]
        self.whole.append(b"\n".join([method, self.url, *(n + b": " + v for n, v in headers),
                                      self.body]))
        self.url = self.body = b""
        self.headers = []

    def read(self) -> None:
        if self.broken is None and len(self.wire.data) > self.fed:
            data = bytes(self.wire.data[self.fed:])
            self.fed = len(self.wire.data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                self.broken = "upgrade"
            except httptools.HttpParserError as exc:
                self.broken = str(exc)

    def answer(self) -> bool:
        """Answer the next request if it arrived whole and its answer is awaited."""
        if self.answered >= self.complete or self.conn.sink is None or self.wire.closed:
            return False
        method = self.requests[self.answered][0]
        self.answered += 1
        self.conn.data_received(HEAD_ANSWER if method == b"HEAD" else ANSWER)
        return True


class Harness:
    """One worker's state (table, pool, caches) for many inputs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ctx = ProxyContext(LiveTable(parse_route_table(ROUTES), static_endpoints,
                                          version_header=True), OPTIONS, loop=self.loop)
        self.upstreams: list[Upstream] = []

    def close(self) -> None:
        self.loop.close()

    def _fill_pool(self) -> None:
        for route in self.ctx.table.routes:
            for ring in route.rings.values():
                for endpoint in ring.items:
                    idle = self.ctx.pool.idle.get(endpoint, [])
                    while len(idle) < 4:
                        upstream = Upstream(UpstreamConn(self.ctx.pool, endpoint))
                        self.upstreams.append(upstream)
                        self.ctx.pool.give_back(upstream.conn)
                        idle = self.ctx.pool.idle[endpoint]

    def run(self, data: bytes, cuts: list[int]) -> tuple[bytes, list[bytes], bool]:
        """Feed ``data`` cut at ``cuts``; (what the client got, the requests the upstreams got
        whole (chunked bodies unchunked: the proxy re-chunks what each read brings), whether a
        head limit was hit). Checks the invariants on the way."""
        self._fill_pool()
        self.upstreams = [u for u in self.upstreams if u.conn.sink is None and not u.wire.closed]
        for u in self.upstreams:
            u.reset()
        client = ClientConn(self.ctx)
        wire = Wire()
        client.connection_made(wire)  # type: ignore[arg-type]
        limit = self.ctx.limits.head_bytes
        start = 0
        for end in [*sorted({c for c in cuts if 0 < c < len(data)}), len(data)]:
            piece = data[start:end]
            start = end
            if not piece or wire.closed:
                continue
            client.data_received(piece)
            assert 0 <= client.head_room <= limit, (client.head_room, limit)
            # between heads the next one has its whole budget
            assert client.in_head or client.head_room == limit, client.head_room
            assert len(client.url) <= 2 * limit + len(piece), len(client.url)
            self._answer()
        client.connection_lost(None)
        out = bytes(wire.data)
        assert not out or out.startswith(b"HTTP/1.1 "), out[:80]
        sent = []
        for u in self.upstreams:
            if not u.wire.data:
                continue
            u.read()
            if not u.wire.aborted:
                assert u.broken in (None, "upgrade"), (u.broken, bytes(u.wire.data[:200]))
                for _, headers in u.requests:
                    _check_upstream_headers(headers)
            sent += u.whole
        hit = any(s in out for s in LIMIT_STATUSES)
        return out, sent, hit

    def _answer(self) -> None:
        progress = True
        while progress:
            progress = False
            for u in list(self.upstreams):
                u.read()
                progress = u.answer() or progress


def _check_upstream_headers(headers: list[tuple[bytes, bytes]]) -> None:
    names = [n.lower() for n, _ in headers]
    assert names.count(b"host") <= 1, headers
    assert names.count(b"x-forwarded-for") == 1, headers
    assert {n.lower(): v for n, v in headers}[b"x-forwarded-for"] == PEER.encode(), headers
    for name, value in headers:
        lname = name.lower()
        if lname == b"connection":
            assert value.lower() == b"upgrade", headers
        elif lname == b"transfer-encoding":
            assert value == b"chunked", headers
        else:
            assert lname not in HOP_BY_HOP or lname == b"upgrade", headers


HARNESS: list[Harness] = []


def _answers(out: bytes) -> list[tuple[bytes, bool]]:
    """The answers in a client's bytes: each less its ``Connection: close`` line, and whether
    it had one."""
    parts = [b"HTTP/1.1 " + p for p in out.split(b"HTTP/1.1 ")[1:]]
    return [(p.replace(b"Connection: close\r\n", b""), b"Connection: close\r\n" in p)
            for p in parts]


def check(data: bytes, cuts: list[int]) -> None:
    """Every invariant for ``data``, fed whole and fed cut at ``cuts``."""
    if not HARNESS:
        HARNESS.append(Harness())
    harness = HARNESS[0]
    whole = harness.run(data, [])
    split = harness.run(data, cuts)
    if whole[2] or split[2]:
        return
    # The same answers, but: whether an answer under way says "Connection: close" when a later
    # request is refused depends on when the refused bytes came; and so does whether bytes
    # after an answer that closes the connection were read at all.
    one, two = _answers(whole[0]), _answers(split[0])
    shorter = min(len(one), len(two))
    assert [a for a, _ in one[:shorter]] == [a for a, _ in two[:shorter]], (whole[0], split[0])
    if len(one) != len(two):
        assert (one if len(one) == shorter else two)[shorter - 1][1], (whole[0], split[0])
    else:
        assert sorted(whole[1]) == sorted(split[1]), (whole[1], split[1])


def fuzz_one(raw: bytes) -> None:
    """atheris' entry: the first byte says how many cut points follow (two bytes each)."""
    if not raw:
        return
    n = raw[0] % 8
    cuts = [int.from_bytes(raw[1 + 2 * i:3 + 2 * i], "big") for i in range(n)]
    check(raw[1 + 2 * n:], cuts)


# starting points for the fuzzer (after a 0: no cut), and words it may splice in
SEEDS = [
    b"GET / HTTP/1.1\r\nHost: web\r\n\r\n",
    b"GET /a?b=1 HTTP/1.1\r\nHost: web\r\nX-Canary: yes\r\nCookie: a=1\r\n\r\n"
    b"GET /any/x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
    b"POST /any HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nHEAD / HTTP/1.1\r\nHost: a.example\r\n\r\n",
    b"PUT / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /any HTTP/1.0\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw",
    b"GET / HTTP/1.1\r\nHost: web\r\nConnection: Host, X-A\r\nX-A: 1\r\n"
    b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: web\r\n\r\nGET http://web/abs HTTP/1.1\r\nHost: web\r\n\r\n",
]
WORDS = [b"\r\n", b"\r\n\r\n", b"HTTP/1.1", b"HTTP/1.0", b"Host: ", b"Content-Length: ",
         b"Transfer-Encoding: chunked", b"Connection: ", b"close", b"keep-alive", b"Upgrade",
         b"Expect: 100-continue", b"X-Forwarded-For: ", b"X-Canary: yes", b"GET ", b"POST ",
         b"HEAD ", b"/any", b"0\r\n\r\n", b"ffffffff", b"chunked, gzip"]
