"""The live route table: route lookup and the per-request routing decision.

A ``LiveTable`` is built from a parsed ``RouteTable`` plus the endpoints of each backend. It is
replaced as a whole (one attribute assignment) when the routes or endpoints change; requests in
flight keep the ``LiveRoute`` they started with. Decisions are synchronous and allocation-light:
they run once per request on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webhook.proxy.balance import CANARY, STABLE, PercentGate, Ring, SmoothSplit
from webhook.proxy.metrics import Recorder
from webhook.spec.matches import MirrorMatch, header_matches_request
from webhook.spec.routetable import Backend, Endpoint, Route, RouteTable

# The endpoints of a route's backend, as a ring the route reads at every request. A source may
# hand the same ring to several tables and replace its ``items`` when endpoints change (cluster
# mode): endpoint churn then costs no table rebuild.
Resolver = Callable[[Route, Backend], Ring[Endpoint]]


def static_endpoints(route: Route, backend: Backend) -> Ring[Endpoint]:
    """The resolver of file mode: a backend's own endpoint list."""
    return Ring(backend.endpoints)


VERSION_HEADERS = {v: b"x-canarist-version: " + v.encode() + b"\r\n" for v in (STABLE, CANARY)}


class Choice:
    """Where one request goes, and the header lines its answer gets (version, cookie)."""

    __slots__ = ("extra", "reason", "set_cookie", "version")

    def __init__(self, version: str, reason: str, set_cookie: bytes | None = None,
                 version_header: bool = True) -> None:
        self.version = version
        self.reason = reason  # "weight", "sticky" or "header:<route name>"
        self.set_cookie = set_cookie
        self.extra = (VERSION_HEADERS[version] if version_header else b"") + (set_cookie or b"")


class LiveRoute:
    """One route with its decision state (split counters, endpoint rings) and every answer it
    can give prepared (the Choice objects and their header lines), so deciding allocates
    nothing."""

    __slots__ = (
        "by_cookie",
        "by_weight",
        "cookie_prefix",
        "hash",
        "header_choices",
        "header_names",
        "header_routes",
        "header_tests",
        "mirror_gate",
        "mirror_matches",
        "name",
        "needs_headers",
        "prefix",
        "recorders",
        "rings",
        "route",
        "split",
        "sticky_active",
        "sticky_attrs",
        "weight",
    )

    def __init__(self, route: Route, resolve: Resolver, version_header: bool = True) -> None:
        self.route = route
        self.name = route.name
        self.prefix = route.path_prefix
        self.weight = route.weight if route.canary is not None else 0
        self.split = SmoothSplit(self.weight)
        self.hash = route.canary_hash
        self.rings: dict[str, Ring[Endpoint]] = {STABLE: resolve(route, route.stable)}
        if route.canary is not None:
            self.rings[CANARY] = resolve(route, route.canary)
        self.recorders: dict[str, Recorder] = {}  # filled by the requests, per version
        self.header_routes = route.header_routes if route.canary is not None else ()
        self.header_choices = tuple(Choice(CANARY, "header:" + hr.name, None, version_header)
                                    for hr in self.header_routes)
        # (lowercase name, StringMatch) pairs of each header route, names lowered once
        self.header_tests = tuple(tuple((m.key, m.value) for m in hr.match)
                                  for hr in self.header_routes)
        mirror = route.mirror if route.canary is not None else None
        self.mirror_gate = PercentGate(mirror.percentage) if mirror else None
        self.mirror_matches: tuple[MirrorMatch, ...] = mirror.match if mirror else ()
        sticky = route.sticky
        self.cookie_prefix = f"{sticky.cookie}=".encode("latin-1") if sticky else b""
        self.sticky_attrs = (
            f"; Max-Age={sticky.max_age}; Path=/; HttpOnly; SameSite=Lax".encode("latin-1")
            if sticky else b""
        )
        # the cookie decides only while both versions get traffic
        self.sticky_active = sticky is not None and 0 < self.weight < 100
        # the lowercase names of the headers the matches read
        names = {m.key for hr in self.header_routes for m in hr.match}
        names |= {m.key for mm in self.mirror_matches for m in mm.headers}
        self.header_names = frozenset(n.encode("latin-1") for n in names)
        self.needs_headers = bool(names)
        # a request decided by the weight gets a cookie that only depends on the decision
        self.by_weight = {
            v: Choice(v, "weight", (b"Set-Cookie: " + self.cookie_prefix
                                    + f"{v}.{self.hash}.{self.weight}".encode("latin-1")
                                    + self.sticky_attrs + b"\r\n")
                      if self.sticky_active else None, version_header)
            for v in (STABLE, CANARY)
        }
        self.by_cookie = {v: Choice(v, "sticky", None, version_header) for v in (STABLE, CANARY)}

    def endpoint(self, version: str) -> Endpoint | None:
        ring = self.rings.get(version)
        if ring is None or not ring.items:
            return None
        return ring.next()

    def header_choice(self, headers: Mapping[str, str] | None) -> Choice | None:
        """The choice of the first header route whose matches all hold, if any."""
        if headers is not None:
            for tests, choice in zip(self.header_tests, self.header_choices, strict=True):
                for key, match in tests:  # every match of the route must hold
                    value = headers.get(key)
                    if value is None or not match.matches(value):
                        break
                else:
                    return choice
        return None

    def choose(self, headers: Mapping[str, str] | None, cookie: bytes | None) -> Choice:
        """Header routes first, then the sticky cookie, then the weight."""
        choice = self.header_choice(headers)
        if choice is not None:
            return choice
        if self.sticky_active and cookie is not None:
            held = self.cookie_version(cookie)
            if held is not None:
                return self.by_cookie[held]
        return self.by_weight[self.split.pick()]

    def cookie_version(self, cookie_header: bytes | None) -> str | None:
        """The version a sticky cookie holds, if it is still valid for this release.

        A canary cookie holds while the canary hash is the same and the weight is between 0 and
        100; a stable cookie also expires when the weight changes, so raising the weight moves a
        share of the stable clients as it should.
        """
        if not self.sticky_active or cookie_header is None:
            return None
        for raw in cookie_header.split(b";"):
            part = raw.strip()
            if not part.startswith(self.cookie_prefix):
                continue
            fields = part[len(self.cookie_prefix):].decode("latin-1").split(".")
            if len(fields) != 3 or fields[1] != self.hash:
                return None
            if fields[0] == CANARY:
                return CANARY
            if fields[0] == STABLE and fields[2] == str(self.weight):
                return STABLE
            return None
        return None

    def mirror_wanted(self, method: str, path: str, headers: Mapping[str, str] | None) -> bool:
        """Whether a request with this method, path and headers matches the mirror (before the
        percentage gate)."""
        if self.mirror_gate is None:
            return False
        return not self.mirror_matches or any(
            _mirror_match(m, method, path, headers) for m in self.mirror_matches)

    def wants_mirror(self, method: str, path: str, headers: Mapping[str, str] | None) -> bool:
        gate = self.mirror_gate
        if gate is None or not self.rings[CANARY].items:
            return False
        return self.mirror_wanted(method, path, headers) and gate()


def _mirror_match(m: MirrorMatch, method: str, path: str, headers: Mapping[str, str] | None
                  ) -> bool:
    if m.method is not None and not m.method.matches(method):
        return False
    if m.path is not None and not m.path.matches(path):
        return False
    return not m.headers or (headers is not None and header_matches_request(m.headers, headers))


def _prefix_matches(prefix: str, path: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


class LiveTable:
    """Routes indexed by host; lookups pick the longest matching path prefix."""

    __slots__ = ("any_host", "by_host", "hosts", "routes", "source", "wildcards")

    def __init__(self, table: RouteTable, resolve: Resolver = static_endpoints,
                 previous: LiveTable | None = None, version_header: bool = True) -> None:
        self.source = table
        olds: dict[str, LiveRoute] = (
            {r.name: r for r in previous.routes} if previous is not None else {})
        self.routes: tuple[LiveRoute, ...] = tuple(
            _carried(r, resolve, olds.get(r.name), version_header) for r in table.routes)
        self.by_host: dict[str, list[LiveRoute]] = {}
        self.wildcards: list[tuple[str, list[LiveRoute]]] = []
        self.any_host: list[LiveRoute] = []
        self.hosts: dict[str, str] = {}  # Host header value -> normalised name, bounded
        wild: dict[str, list[LiveRoute]] = {}
        for live in self.routes:
            if not live.route.hosts:
                self.any_host.append(live)
            for host in live.route.hosts:
                if host.startswith("*."):
                    wild.setdefault(host[1:], []).append(live)
                else:
                    self.by_host.setdefault(host, []).append(live)
        by_len: Callable[[LiveRoute], int] = lambda r: -len(r.prefix)  # noqa: E731
        for routes in self.by_host.values():
            routes.sort(key=by_len)
        self.any_host.sort(key=by_len)
        self.wildcards = sorted(
            ((suffix, sorted(rs, key=by_len)) for suffix, rs in wild.items()),
            key=lambda item: -len(item[0]),
        )

    def lookup(self, host: str, path: str) -> LiveRoute | None:
        """The route for a Host header value (port ignored) and a request path."""
        name = self.hosts.get(host)
        if name is None:
            name = host.rpartition(":")[0] if host[-1:].isdigit() and ":" in host else host
            name = name.lower().rstrip(".")
            if len(self.hosts) < 4096:
                self.hosts[host] = name
        routes = self.by_host.get(name)
        if routes:
            found = _first(routes, path)
            if found is not None:
                return found
        for suffix, rs in self.wildcards:
            if name.endswith(suffix):
                found = _first(rs, path)
                if found is not None:
                    return found
        return _first(self.any_host, path)


def _carried(route: Route, resolve: Resolver, old: LiveRoute | None,
             version_header: bool) -> LiveRoute:
    """The live route of the previous table when this route did not change (same definition,
    same endpoint rings), so its split and mirror counters run on: a change to one route keeps
    the other routes exact across the swap."""
    if old is not None and old.route == route and all(
            backend.service is None or resolve(route, backend) is old.rings[version]
            for version, backend in ((STABLE, route.stable), (CANARY, route.canary))
            if backend is not None):
        return old
    return LiveRoute(route, resolve, version_header)


def _first(routes: list[LiveRoute], path: str) -> LiveRoute | None:
    for route in routes:
        if _prefix_matches(route.prefix, path):
            return route
    return None


def describe(table: LiveTable) -> list[dict[str, Any]]:
    """The routes in force with the endpoints each version has now (admin ``/routes``)."""
    out = []
    for live in table.routes:
        route = live.route
        out.append({
            "name": live.name,
            "hosts": list(route.hosts),
            "pathPrefix": live.prefix,
            "weight": live.weight,
            "canaryHash": route.canary_hash,
            "endpoints": {v: [str(e) for e in ring.items] for v, ring in live.rings.items()},
            "headerRoutes": [h.name for h in live.header_routes],
            "mirror": live.mirror_gate.percent if live.mirror_gate is not None else None,
            "sticky": route.sticky.cookie if route.sticky is not None else None,
        })
    return out
