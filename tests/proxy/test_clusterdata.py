"""Cluster mode's pure decisions: merging route tables, endpoints from EndpointSlices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.proxy.clusterdata import TableSource, merge_tables, service_endpoints
from webhook.spec.routetable import Endpoint, parse_route_table


def source(ns: str, name: str, *routes: str) -> TableSource:
    """``routes``: "NAME HOST[,HOST] PREFIX" (HOST ``-`` for none)."""
    items = []
    for spec in routes:
        rname, hosts, prefix = spec.split()
        item: dict[str, Any] = {"name": rname, "pathPrefix": prefix,
                                "stable": {"service": rname, "port": 80}}
        if hosts != "-":
            item["hosts"] = hosts.split(",")
        items.append(item)
    return TableSource(ns, name, parse_route_table(json.dumps({"routes": items})))


def shape(sources: list[TableSource]) -> list[tuple[str, tuple[str, ...], str, str]]:
    merged = merge_tables(sources)
    return [(r.name, r.hosts, r.path_prefix, merged.namespaces[r.name]) for r in
            merged.table.routes]


MERGES: list[tuple[str, list[TableSource], list[tuple[str, tuple[str, ...], str, str]], int]] = [
    ("disjoint tables are concatenated in (namespace, name) order",
     [source("b", "x", "api api.example.com /"), source("a", "y", "web web.example.com /")],
     [("web", ("web.example.com",), "/", "a"), ("api", ("api.example.com",), "/", "b")], 0),
    ("the same host with other prefixes is no conflict",
     [source("a", "x", "web web.example.com /"), source("a", "y", "api web.example.com /api")],
     [("web", ("web.example.com",), "/", "a"), ("api", ("web.example.com",), "/api", "a")], 0),
    ("a host already served is dropped from the later route, which keeps its other hosts",
     [source("a", "x", "web web.example.com /"),
      source("b", "y", "shop web.example.com,shop.example.com /")],
     [("web", ("web.example.com",), "/", "a"), ("shop", ("shop.example.com",), "/", "b")], 1),
    ("a route left with nothing to serve is skipped",
     [source("b", "y", "two - /"), source("a", "x", "one - /")],
     [("one", (), "/", "a")], 2),
    ("a route name taken in another namespace is qualified with its namespace",
     [source("b", "web-routes", "web b.example.com /"),
      source("a", "web-routes", "web a.example.com /")],
     [("web", ("a.example.com",), "/", "a"), ("web.b", ("b.example.com",), "/", "b")], 1),
    ("no tables: an empty table", [], [], 0),
]


@pytest.mark.parametrize(("what", "sources", "expected", "notes"), MERGES,
                         ids=[m[0] for m in MERGES])
def test_merge_tables(what: str, sources: list[TableSource],
                      expected: list[tuple[str, tuple[str, ...], str, str]], notes: int) -> None:
    assert shape(sources) == expected
    assert len(merge_tables(sources).notes) == notes
    assert shape(list(reversed(sources))) == expected  # the order of events does not matter


def test_merge_notes_name_the_configmaps_and_the_winner() -> None:
    merged = merge_tables([source("a", "x", "web - /"), source("b", "y", "other - /")])
    assert merged.notes == (
        "route 'other' of ConfigMap b/y: any host with pathPrefix '/' is already served by "
        "route 'web' of ConfigMap a/x; ignored here",
        "route 'other' of ConfigMap b/y: nothing left to serve; skipped",
    )


def service(*ports: tuple[str, int]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "a"},
            "spec": {"ports": [{"name": n, "port": p, "targetPort": 8080} for n, p in ports]}}


def slice_(name: str, ports: list[tuple[str, int]], *endpoints: tuple[str, bool | None],
           address_type: str = "IPv4") -> dict[str, Any]:
    eps = []
    for ip, ready in endpoints:
        ep: dict[str, Any] = {"addresses": [ip], "conditions": {}}
        if ready is not None:
            ep["conditions"]["ready"] = ready
        eps.append(ep)
    return {"metadata": {"name": name}, "addressType": address_type,
            "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
            "endpoints": eps}


ENDPOINTS: list[tuple[str, dict[str, Any] | None, int, list[dict[str, Any]], list[str], str]] = [
    ("ready and unset conditions count, not-ready ones do not",
     service(("http", 80)), 80,
     [slice_("web-1", [("http", 8080)], ("127.0.1.1", True), ("127.0.1.2", False),
             ("127.0.1.3", None))],
     ["127.0.1.1:8080", "127.0.1.3:8080"], ""),
    ("the Service port's name picks the slice port",
     service(("metrics", 9090), ("http", 80)), 80,
     [slice_("web-1", [("metrics", 9100), ("http", 8081)], ("127.0.1.1", True))],
     ["127.0.1.1:8081"], ""),
    ("an unnamed single port matches the unnamed slice port",
     service(("", 80)), 80, [slice_("web-1", [("", 3000)], ("127.0.1.1", True))],
     ["127.0.1.1:3000"], ""),
    ("slices are read in name order; an endpoint in two slices counts once",
     service(("http", 80)), 80,
     [slice_("web-b", [("http", 8080)], ("127.0.1.2", True), ("127.0.1.1", True)),
      slice_("web-a", [("http", 8080)], ("127.0.1.3", True), ("127.0.1.2", True))],
     ["127.0.1.3:8080", "127.0.1.2:8080", "127.0.1.1:8080"], ""),
    ("pods resolving a named targetPort differently land in slices with their own port",
     service(("http", 80)), 80,
     [slice_("web-a", [("http", 8080)], ("127.0.1.1", True)),
      slice_("web-b", [("http", 9000)], ("127.0.1.2", True))],
     ["127.0.1.1:8080", "127.0.1.2:9000"], ""),
    ("FQDN slices are not addresses to connect to",
     service(("http", 80)), 80,
     [slice_("web-a", [("http", 8080)], ("db.example.com", True), address_type="FQDN")],
     [], ""),
    ("the placeholder slice (no ports, no endpoints) gives none",
     service(("http", 80)), 80, [slice_("web-a", [])], [], ""),
    ("a missing Service is a problem", None, 80, [], [], "Service a/web not found"),
    ("a port the Service does not have is a problem", service(("http", 80)), 81, [], [],
     "Service a/web has no TCP port 81 (ports: 80)"),
]


@pytest.mark.parametrize(("what", "svc", "port", "slices", "expected", "problem"), ENDPOINTS,
                         ids=[e[0] for e in ENDPOINTS])
def test_service_endpoints(what: str, svc: dict[str, Any] | None, port: int,
                           slices: list[dict[str, Any]], expected: list[str],
                           problem: str) -> None:
    found = service_endpoints(svc, port, slices, "a/web")
    assert [str(e) for e in found.endpoints] == expected
    assert found.problem == problem


def test_ipv6_endpoints_are_kept() -> None:
    found = service_endpoints(service(("http", 80)), 80, [
        slice_("web-a", [("http", 8080)], ("fd00::1", True), address_type="IPv6")], "a/web")
    assert found.endpoints == (Endpoint("fd00::1", 8080),)
    assert str(found.endpoints[0]) == "[fd00::1]:8080"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "port", "protocol", "ports", "endpoints", "addresses",
                         "conditions", "ready", "addressType", "metadata", "spec"]),
        inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(svc=JSONISH, slices=st.lists(JSONISH, max_size=3))
def test_any_json_gives_endpoints_or_a_problem_never_an_exception(svc: Any,
                                                                 slices: list[Any]) -> None:
    svc = svc if isinstance(svc, dict) else None
    found = service_endpoints(svc, 80, [s for s in slices if isinstance(s, dict)], "a/web")
    assert all(1 <= e.port <= 65535 for e in found.endpoints)
