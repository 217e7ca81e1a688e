"""Parsing and validating route tables: every problem reported with its path."""

from __future__ import annotations

import re
from typing import Any

from webhook.errors import ConfigError
from webhook.spec.matches import parse_header_matches, parse_mirror_fields
from webhook.spec.problems import (
    Problems,
    at,
    check_keys,
    index,
    integer,
    keyed,
    keyed_items,
    mapping,
    required,
    sequence,
    show,
    string,
)
from webhook.spec.routetable.model import (
    DEFAULT_STICKY_MAX_AGE,
    Backend,
    Endpoint,
    HeaderRoute,
    MirrorRoute,
    Route,
    RouteTable,
    ServiceRef,
    Sticky,
)
from webhook.spec.yamltext import failed, load_yaml

MAX_TABLE = 1024 * 1024  # a ConfigMap's size limit
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\Z")
_COOKIE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}\Z")
_HASH = re.compile(r"^[A-Za-z0-9._-]{0,63}\Z")
_ROUTE_KEYS = (
    "name",
    "hosts",
    "pathPrefix",
    "stable",
    "canary",
    "weight",
    "headerRoutes",
    "mirror",
    "sticky",
    "canaryHash",
    "stableHash",
)


def parse_route_table(text: str, subject: str = "routes") -> RouteTable:
    """Parse YAML or JSON text; raise ``ConfigError`` listing every problem with its path."""
    problems = Problems()
    raw = load_yaml(text, "", problems, max_text=MAX_TABLE)
    if failed(raw):
        problems.raise_if_any(ConfigError, subject)
    table = route_table_from_obj(raw, problems)
    problems.raise_if_any(ConfigError, subject)
    return table


def route_table_from_obj(raw: Any, problems: Problems) -> RouteTable:
    top = mapping(raw, "", problems) if raw is not None else None
    if raw is None:
        problems.add("routes", "is required (the file is empty)")
    if top is None:
        return RouteTable()
    check_keys(top, ("routes",), "", problems)
    if "routes" not in top:
        problems.add("routes", "is required")
        return RouteTable()
    items = sequence(top["routes"], "routes", problems)
    routes = [_route(item, index("routes", i), problems) for i, item in enumerate(items or [])]
    parsed = tuple(r for r in routes if r is not None)
    _check_unique(parsed, problems)
    return RouteTable(parsed)


def _route(raw: Any, path: str, problems: Problems) -> Route | None:
    before = len(problems)
    m = keyed(raw, _ROUTE_KEYS, path, problems)
    if m is None:
        return None
    required(m, ("name", "stable"), path, problems)
    name = _name(m.get("name"), at(path, "name"), problems) if "name" in m else None
    stable = _backend(m["stable"], at(path, "stable"), problems) if "stable" in m else None
    canary = _backend(m["canary"], at(path, "canary"), problems) if "canary" in m else None
    hosts = _hosts(m["hosts"], at(path, "hosts"), problems) if "hosts" in m else ()
    prefix = _prefix(m.get("pathPrefix", "/"), at(path, "pathPrefix"), problems)
    weight = integer(m.get("weight", 0), at(path, "weight"), problems, low=0, high=100)
    headers = _header_routes(m.get("headerRoutes", []), at(path, "headerRoutes"), problems)
    mirror = _mirror(m["mirror"], at(path, "mirror"), problems) if "mirror" in m else None
    sticky = _sticky(m["sticky"], at(path, "sticky"), problems) if "sticky" in m else None
    canary_hash = _hash(m.get("canaryHash", ""), at(path, "canaryHash"), problems)
    stable_hash = _hash(m.get("stableHash", ""), at(path, "stableHash"), problems)
    if canary is None and "canary" not in m:
        for key, used in (
            ("weight", bool(weight)),
            ("headerRoutes", bool(headers)),
            ("mirror", mirror is not None),
        ):
            if used:
                problems.add(at(path, key), "needs a canary backend (set canary)")
    if len(problems) != before or name is None or stable is None or weight is None:
        return None
    return Route(
        name=name,
        stable=stable,
        canary=canary,
        hosts=hosts,
        path_prefix=prefix or "/",
        weight=weight,
        header_routes=headers,
        mirror=mirror,
        sticky=sticky,
        canary_hash=canary_hash or "",
        stable_hash=stable_hash or "",
    )


def _name(raw: Any, path: str, problems: Problems) -> str | None:
    value = string(raw, path, problems)
    if value is not None and not _NAME.match(value):
        problems.add(
            path,
            f"invalid name {show(value)}: use letters, digits, '.', '_' or '-' "
            "(at most 63, starting and ending with a letter or digit)",
        )
        return None
    return value


def _hosts(raw: Any, path: str, problems: Problems) -> tuple[str, ...]:
    items = sequence(raw, path, problems)
    out: list[str] = []
    for i, item in enumerate(items or []):
        value = string(item, index(path, i), problems)
        if value is None:
            continue
        host = value.lower()
        if not _HOST.match(host):
            problems.add(
                index(path, i),
                f"invalid host name {show(value)}: a DNS name, "
                "optionally starting with '*.' (no port, no scheme)",
            )
            continue
        out.append(host)
    return tuple(out)


def _prefix(raw: Any, path: str, problems: Problems) -> str | None:
    value = string(raw, path, problems)
    if value is not None and (not value.startswith("/") or any(c in value for c in "?# \t")):
        problems.add(
            path, f"must be a URL path starting with '/' (no query, no spaces), got {show(value)}"
        )
        return None
    return value


def _backend(raw: Any, path: str, problems: Problems) -> Backend | None:
    m = keyed(raw, ("endpoints", "service", "port"), path, problems)
    if m is None:
        return None
    if "endpoints" in m:
        if "service" in m or "port" in m:
            problems.add(path, "set either endpoints, or service and port; not both")
            return None
        items = sequence(m["endpoints"], at(path, "endpoints"), problems)
        eps = [
            _endpoint(x, index(at(path, "endpoints"), i), problems)
            for i, x in enumerate(items or [])
        ]
        if any(e is None for e in eps):
            return None
        return Backend(endpoints=tuple(e for e in eps if e is not None))
    if "service" in m:
        svc = _name(m["service"], at(path, "service"), problems)
        if "port" not in m:
            problems.add(at(path, "port"), "is required with service")
            return None
        port = integer(m["port"], at(path, "port"), problems, low=1, high=65535)
        if svc is None or port is None:
            return None
        return Backend(service=ServiceRef(svc, port))
    problems.add(path, 'must set endpoints: ["HOST:PORT", ...] or service: NAME with port')
    return None


def parse_endpoint(text: str) -> Endpoint | None:
    """``HOST:PORT`` or ``[IPv6]:PORT``; None when it is not one."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        return None
    if len(port_text) > 5:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None
    port = int(port_text)
    if not 1 <= port <= 65535 or not host or any(c in host for c in "/ \t@[]"):
        return None
    return Endpoint(host, port)


def _endpoint(raw: Any, path: str, problems: Problems) -> Endpoint | None:
    value = string(raw, path, problems)
    if value is None:
        return None
    ep = parse_endpoint(value)
    if ep is None:
        problems.add(
            path, f"must be HOST:PORT (port 1-65535; IPv6 as [ADDR]:PORT), got {show(value)}"
        )
    return ep


def _header_routes(raw: Any, path: str, problems: Problems) -> tuple[HeaderRoute, ...]:
    out: list[HeaderRoute] = []
    seen: set[str] = set()
    for ipath, m in keyed_items(raw, ("name", "match"), path, problems):
        if not required(m, ("name", "match"), ipath, problems):
            continue
        before = len(problems)
        name = _name(m["name"], at(ipath, "name"), problems)
        match = parse_header_matches(m["match"], at(ipath, "match"), problems)
        if name is not None and name in seen:
            problems.add(at(ipath, "name"), f"duplicate header route name {show(name)}")
        if name is not None and len(problems) == before:
            seen.add(name)
            out.append(HeaderRoute(name, match))
    return tuple(out)


def _mirror(raw: Any, path: str, problems: Problems) -> MirrorRoute | None:
    m = keyed(raw, ("percentage", "match"), path, problems)
    if m is None:
        return None
    fields = parse_mirror_fields(m, path, problems)
    return None if fields is None else MirrorRoute(*fields)


def _sticky(raw: Any, path: str, problems: Problems) -> Sticky | None:
    m = keyed(raw, ("cookie", "maxAge"), path, problems)
    if m is None:
        return None
    if not required(m, ("cookie",), path, problems):
        return None
    cookie = string(m["cookie"], at(path, "cookie"), problems)
    if cookie is not None and not _COOKIE.match(cookie):
        problems.add(
            at(path, "cookie"), f"invalid cookie name {show(cookie)}: 1-64 token characters"
        )
        cookie = None
    max_age = integer(
        m.get("maxAge", DEFAULT_STICKY_MAX_AGE),
        at(path, "maxAge"),
        problems,
        low=0,
        high=10 * 365 * 86400,
    )
    if cookie is None or max_age is None:
        return None
    return Sticky(cookie, max_age)


def _hash(raw: Any, path: str, problems: Problems) -> str | None:
    value = string(raw, path, problems, nonempty=False)
    if value is not None and not _HASH.match(value):
        problems.add(
            path, f"invalid hash {show(value)}: at most 63 of letters, digits, '.', '_' or '-'"
        )
        return None
    return value


def _check_unique(routes: tuple[Route, ...], problems: Problems) -> None:
    names: set[str] = set()
    keys: dict[tuple[str, str], str] = {}
    for i, route in enumerate(routes):
        if route.name in names:
            problems.add(at(index("routes", i), "name"), f"duplicate route name {show(route.name)}")
        names.add(route.name)
        for host in route.hosts or ("*",):
            key = (host, route.path_prefix)
            if key in keys:
                problems.add(
                    index("routes", i),
                    f"host {show(host)} with pathPrefix "
                    f"{show(route.path_prefix)} is already served by route "
                    f"{show(keys[key])}",
                )
            keys.setdefault(key, route.name)
