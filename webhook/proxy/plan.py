"""Request plans: what the proxy needs from a request head, worked out once per distinct head.

Clients repeat themselves: on a keep-alive connection, and across the connections of one kind of
client, most request heads are byte-for-byte the same. A ``RequestPlan`` holds everything that
depends only on the head's bytes (method, target, the end-to-end headers, the upstream request
head less the client's address, framing) and, for the table in force, the decisions that depend
only on the head and the route (which route, which header route matched, what a sticky cookie
holds, whether the mirror matches). Only the weight's round-robin, the endpoint and the mirror's
percentage are decided per request.

Plans of complete requests without a body are kept in ``PLANS``, keyed by the raw head exactly as
it arrived, from the second time a head is seen (``SEEN`` holds the raw bytes of heads seen once:
bytes are not tracked by the garbage collector, so heads that never repeat cost no collection
work); the client connection looks a read up there first and, on a hit, skips the HTTP parser
altogether (the same bytes were parsed and accepted before). Both are bounded and forget
everything when full.
"""

from __future__ import annotations

from webhook.proxy import headers as h
from webhook.proxy.table import Choice, LiveRoute, LiveTable

MAX_PLANS = 4096
MAX_CACHED_HEAD = 2048  # bytes; longer heads are planned for each request (at most 8 MiB held)
PLANS: dict[bytes, RequestPlan] = {}
SEEN: set[bytes] = set()


class RequestPlan:
    __slots__ = (
        "cacheable", "head", "header_choice", "held", "host", "http11", "is_head", "keep_alive",
        "matchable", "method", "mirror_match", "path", "post", "pre", "route", "table", "target",
    )

    def __init__(self, method: bytes, target: bytes, raw_headers: h.Headers, keep_alive: bool,
                 http11: bool) -> None:
        head = h.scan_request(raw_headers)
        self.method = method
        self.target = target
        self.head = head
        self.http11 = http11
        self.keep_alive = keep_alive and not head.close
        self.is_head = method == b"HEAD"
        self.path = target.partition(b"?")[0].decode("latin-1")
        self.host = head.host.decode("latin-1")
        self.pre, self.post = h.upstream_head_parts(method, target, head, http11)
        self.matchable: dict[str, str] | None = None  # the headers the route's matches read
        self.cacheable = (not head.chunked and not head.content_length and head.upgrade is None
                          and not head.expect_continue)
        self.table: LiveTable | None = None
        self.route: LiveRoute | None = None
        self.header_choice: Choice | None = None
        self.held: str | None = None
        self.mirror_match = False

    def bind(self, table: LiveTable) -> None:
        """Work out the decisions that only depend on this head, for ``table``."""
        route = table.lookup(self.host, self.path) if self.host else None
        self.route = route
        if route is not None:
            hdrs = None
            if route.needs_headers:
                hdrs = self.matchable = _matchable(self.head.keep, route.header_names)
            self.header_choice = route.header_choice(hdrs) if route.header_routes else None
            self.held = route.cookie_version(self.head.cookie) if route.sticky_active else None
            self.mirror_match = (route.mirror_gate is not None and self.head.upgrade is None
                                 and route.mirror_wanted(self.method.decode("latin-1"),
                                                         self.path, hdrs))
        self.table = table

    def upstream_head(self, client_ip: bytes) -> bytes:
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


def remember(raw: bytes, plan: RequestPlan) -> None:
    """Keep the plan of a complete bodiless request that arrived as exactly ``raw``, once the
    same bytes came a second time."""
    if not plan.cacheable or len(raw) > MAX_CACHED_HEAD:
        return
    if raw not in SEEN:
        if len(SEEN) >= MAX_PLANS:
            SEEN.clear()
        SEEN.add(raw)
        return
    if len(PLANS) >= MAX_PLANS:
        PLANS.clear()
    PLANS[raw] = plan
