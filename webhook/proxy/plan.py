"""Request plans: what the proxy needs from a request head, worked out once per distinct head.

Clients repeat themselves: on a keep-alive connection, and across the connections of one kind of
client, most request heads are byte-for-byte the same, and most of the rest differ only in their
request line (another path, the same headers). So the work is cached at two levels:

- a ``HeadBlock`` holds what the header lines imply, whatever the request line: the end-to-end
  headers, the upstream head's header part less the client's address, the framing, and per
  route the decisions that only depend on headers (which header route matched, what a sticky
  cookie holds);
- a ``RequestPlan`` adds the request line (method, target, path) and, for the table in force,
  the route and whether the mirror matches. Only the weight's round-robin, the endpoint and the
  mirror's percentage are decided per request.

Both are kept for complete requests without a body, keyed by raw bytes exactly as they arrived
(``PLANS``: the whole head; ``BLOCKS``: the header lines after the request line), from the
second time the same bytes are seen (``SEEN`` holds bytes seen once: bytes are not tracked by the
garbage collector, so heads that never repeat cost it nothing). A read equal to a known head, or
made of a strict ``HTTP/1.1`` request line and a known header block, starts its request without
going through the HTTP parser: those header bytes were parsed and accepted before, and the
request line is checked here (a known method, an origin-form target of URI characters), anything
else is left to the parser. Every cache is bounded and forgets everything when full.
"""

from __future__ import annotations

import re

from webhook.proxy import headers as h
from webhook.proxy.table import Choice, LiveRoute, LiveTable

MAX_PLANS = 4096
MAX_CACHED_HEAD = 2048  # bytes; longer heads are planned for each request
# so the three caches hold at most 3 x 4096 x 2 KiB of raw heads, plus their plans
PLANS: dict[bytes, RequestPlan] = {}
BLOCKS: dict[bytes, HeadBlock] = {}
SEEN: set[bytes] = set()
# methods httptools knows and that cannot turn the connection into something else (CONNECT)
REQUEST_LINE = re.compile(
    rb"(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) (/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*) HTTP/1\.1\r\n")

Decisions = tuple[Choice | None, str | None, dict[str, str] | None]


class HeadBlock:
    """What a request's header lines imply, whatever its request line."""

    __slots__ = ("cacheable", "decided", "head", "host", "post", "pre", "table", "trusted")

    def __init__(self, raw_headers: h.Headers) -> None:
        head = h.scan_request(raw_headers)
        self.head = head
        self.host = head.host.decode("latin-1")
        self.pre, self.post = h.upstream_header_parts(head)
        # a block a strict HTTP/1.1 request line may start without the parser (``known``):
        # bodiless, one valid Host
        self.cacheable = (not head.chunked and not head.content_length and head.upgrade is None
                          and not head.expect_continue and head.hosts == 1
                          and head.problem is None and not head.transfer_encoding)
        self.table: LiveTable | None = None
        self.decided: dict[LiveRoute, Decisions] = {}
        self.trusted: tuple[bytes, bytes] | None = None

    def trusted_parts(self) -> tuple[bytes, bytes]:
        """``pre`` and ``post`` for a client that is a trusted proxy (made when first asked)."""
        if self.trusted is None:
            self.trusted = h.upstream_header_parts(self.head, trusted=True)
        return self.trusted

    def decisions(self, route: LiveRoute, table: LiveTable) -> Decisions:
        """(header route choice, version a sticky cookie holds, headers the matches read)."""
        if self.table is not table:
            self.table = table
            self.decided = {}
        found = self.decided.get(route)
        if found is None:
            hdrs = _matchable(self.head.keep, route.header_names) if route.needs_headers else None
            found = self.decided[route] = (
                route.header_choice(hdrs) if route.header_routes else None,
                route.cookie_version(self.head.cookie) if route.sticky_active else None,
                hdrs,
            )
        return found


class RequestPlan:
    __slots__ = (
        "block", "cacheable", "head", "header_choice", "held", "host", "http11", "is_head",
        "keep_alive", "method", "mirror_match", "path", "post", "pre", "problem", "route",
        "table", "target",
    )

    def __init__(self, method: bytes, target: bytes, block: HeadBlock, keep_alive: bool,
                 http11: bool) -> None:
        self.method = method
        self.target = target
        self.block = block
        head = self.head = block.head
        self.http11 = http11
        self.keep_alive = keep_alive and not head.close
        self.is_head = method == b"HEAD"
        self.path = target.partition(b"?")[0].decode("latin-1")
        self.host = block.host
        self.pre = b"".join((method, b" ", target, b" HTTP/1.1\r\n" if http11
                             else b" HTTP/1.0\r\n", block.pre))
        self.post = block.post
        # RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host; §6.1: an HTTP/1.0 message
        # with Transfer-Encoding has faulty framing (400, and the connection is closed)
        # (a cacheable block has one valid Host and no Transfer-Encoding)
        problem = None if block.cacheable else head.problem
        if problem is None and not block.cacheable:
            if http11 and not head.hosts:
                problem = "HTTP/1.1 request without a Host header"
            elif not http11 and head.transfer_encoding:
                problem = "HTTP/1.0 request with Transfer-Encoding"
        self.problem = problem
        self.cacheable = block.cacheable
        self.table: LiveTable | None = None
        self.route: LiveRoute | None = None
        self.header_choice: Choice | None = None
        self.held: str | None = None
        self.mirror_match = False

    @classmethod
    def parse(cls, method: bytes, target: bytes, raw_headers: h.Headers, keep_alive: bool,
              http11: bool) -> RequestPlan:
        return cls(method, target, HeadBlock(raw_headers), keep_alive, http11)

    def bind(self, table: LiveTable) -> None:
        """Work out the decisions that only depend on this head, for ``table``. A request
        without Host (HTTP/1.0) can only match a route without ``hosts``."""
        route = table.lookup(self.host, self.path)
        self.route = route
        if route is not None:
            self.header_choice, self.held, hdrs = self.block.decisions(route, table)
            self.mirror_match = (route.mirror_gate is not None and self.head.upgrade is None
                                 and route.mirror_wanted(self.method.decode("latin-1"),
                                                         self.path, hdrs))
        self.table = table

    def upstream_head(self, client_ip: bytes, trusted: bool = False) -> bytes:
        if trusted:
            pre, post = self.block.trusted_parts()
            version = b" HTTP/1.1\r\n" if self.http11 else b" HTTP/1.0\r\n"
            return b"".join((self.method, b" ", self.target, version, pre, client_ip, post))
        return self.pre + client_ip + self.post


def _matchable(keep: h.Headers, wanted: frozenset[bytes]) -> dict[str, str]:
    """The headers a route's matches read: lowercase names to values (repeated headers joined
    with ", ")."""
    out: dict[str, str] = {}
    for name, value in keep:
        lname = name.lower()
        if lname in wanted:
            key = lname.decode("latin-1")
            val = value.decode("latin-1")
            out[key] = out[key] + ", " + val if key in out else val
    return out


def known(raw: bytes) -> RequestPlan | None:
    """The plan of a read that is a simple HTTP/1.1 request line before a known header block
    (the caller looked ``PLANS`` up first); None when the parser has to read it."""
    if not raw.endswith(b"\r\n\r\n"):
        return None
    line_end = raw.find(b"\r\n") + 2
    block = BLOCKS.get(raw[line_end:])  # a known block holds no blank line but its last
    if block is None:
        return None
    line = REQUEST_LINE.fullmatch(raw, 0, line_end)
    if line is None:
        return None
    plan = RequestPlan(line[1], line[2], block, True, True)
    remember(raw, plan)
    return plan


def _second_sighting(raw: bytes) -> bool:
    if raw in SEEN:
        return True
    if len(SEEN) >= MAX_PLANS:
        SEEN.clear()
    SEEN.add(raw)
    return False


def remember(raw: bytes, plan: RequestPlan) -> None:
    """Keep the plan of a complete bodiless request that arrived as exactly ``raw``, once the
    same bytes came a second time."""
    if plan.cacheable and len(raw) <= MAX_CACHED_HEAD and _second_sighting(raw):
        if len(PLANS) >= MAX_PLANS:
            PLANS.clear()
        PLANS[raw] = plan


def remember_block(raw: bytes, block: HeadBlock) -> None:
    """Keep a header block (the head less its request line) seen a second time."""
    if block.cacheable and len(raw) <= MAX_CACHED_HEAD and _second_sighting(raw):
        if len(BLOCKS) >= MAX_PLANS:
            BLOCKS.clear()
        BLOCKS[raw] = block
