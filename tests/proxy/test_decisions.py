"""Pure decisions: the exact split, the mirror gate, route lookup, header/sticky/weight order."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from webhook.proxy.balance import CANARY, STABLE, PercentGate, Ring, SmoothSplit
from webhook.proxy.table import LiveTable
from webhook.spec.routetable import parse_route_table


@pytest.mark.parametrize("weight", [0, 1, 10, 33, 50, 99, 100])
def test_split_is_exact_in_every_window_of_100(weight: int) -> None:
    split = SmoothSplit(weight)
    picks = [split.pick() for _ in range(1000)]
    for start in range(0, 1000, 100):
        assert picks[start:start + 100].count(CANARY) == weight


def test_split_spreads_canary_picks_evenly() -> None:
    split = SmoothSplit(10)
    picks = [split.pick() for _ in range(100)]
    gaps = [i for i, p in enumerate(picks) if p == CANARY]
    assert [b - a for a, b in itertools.pairwise(gaps)] == [10] * 9


@pytest.mark.parametrize("percent", [0, 1, 35, 50, 100])
def test_percent_gate_is_exact(percent: int) -> None:
    gate = PercentGate(percent)
    assert sum(gate() for _ in range(300)) == 3 * percent


@pytest.mark.parametrize("bad", [-1, 101])
def test_out_of_range_weights_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        SmoothSplit(bad)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        PercentGate(bad)


def test_ring_cycles() -> None:
    ring = Ring(("a", "b", "c"))
    assert [ring.next() for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]


def table(*routes: dict[str, Any]) -> LiveTable:
    full = []
    for r in routes:
        full.append({"stable": {"endpoints": ["127.0.0.2:1"]},
                     "canary": {"endpoints": ["127.0.0.3:1"]}, **r})
    return LiveTable(parse_route_table(json.dumps({"routes": full})))


LOOKUP = LiveTable(parse_route_table(json.dumps({"routes": [
    {"name": "exact", "hosts": ["a.example.com"], "stable": {"endpoints": ["127.0.0.2:1"]}},
    {"name": "exact-api", "hosts": ["a.example.com"], "pathPrefix": "/api",
     "stable": {"endpoints": ["127.0.0.2:1"]}},
    {"name": "wild", "hosts": ["*.example.com"], "stable": {"endpoints": ["127.0.0.2:1"]}},
    {"name": "any-v2", "pathPrefix": "/v2/", "stable": {"endpoints": ["127.0.0.2:1"]}},
]})))


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("a.example.com", "/", "exact"),
    ("A.Example.COM:8080", "/x", "exact"),
    ("a.example.com", "/api", "exact-api"),
    ("a.example.com", "/api/users", "exact-api"),
    ("a.example.com", "/apix", "exact"),
    ("b.example.com", "/api", "wild"),
    ("example.com", "/v2/x", "any-v2"),
    ("other.org", "/v2/", "any-v2"),
    ("other.org", "/v2", None),
    ("other.org", "/", None),
])
def test_lookup_by_host_then_longest_prefix(host: str, path: str, expected: str | None) -> None:
    found = LOOKUP.lookup(host, path)
    assert (found.name if found else None) == expected


HEADER_ROUTES = [
    {"name": "exact", "match": [{"headerName": "X-Canary", "headerValue": {"exact": "yes"}}]},
    {"name": "prefix", "match": [{"headerName": "User-Agent", "headerValue": {"prefix": "beta/"}}]},
    {"name": "regex", "match": [{"headerName": "X-Team", "headerValue": {"regex": "qa|dev"}}]},
    {"name": "both", "match": [{"headerName": "X-A", "headerValue": {"exact": "1"}},
                               {"headerName": "X-B", "headerValue": {"exact": "2"}}]},
]


@pytest.mark.parametrize(("headers", "reason"), [
    ({"x-canary": "yes"}, "header:exact"),
    ({"x-canary": "yes!"}, "weight"),
    ({"user-agent": "beta/1.0"}, "header:prefix"),
    ({"user-agent": "xbeta/1.0"}, "weight"),
    ({"x-team": "qa"}, "header:regex"),
    ({"x-team": "qa2"}, "weight"),  # regex is a full match
    ({"x-a": "1", "x-b": "2"}, "header:both"),
    ({"x-a": "1"}, "weight"),
    ({"x-canary": "yes", "x-team": "qa"}, "header:exact"),  # first route in order wins
])
def test_header_routes_in_order(headers: dict[str, str], reason: str) -> None:
    live = table({"name": "web", "weight": 0, "headerRoutes": HEADER_ROUTES}).routes[0]
    choice = live.choose(headers, None)
    assert choice.reason == reason
    assert choice.version == (CANARY if reason.startswith("header") else STABLE)


def cookie_of(set_cookie: bytes | None) -> bytes:
    assert set_cookie is not None
    return set_cookie.split(b": ", 1)[1].split(b";")[0]


def test_sticky_cookie_holds_the_version_and_is_invalidated_by_a_new_release() -> None:
    spec = {"name": "web", "weight": 50, "canaryHash": "h1", "sticky": {"cookie": "cw"}}
    live = table(spec).routes[0]
    first = [live.choose(None, None) for _ in range(4)]
    assert [c.version for c in first] == [STABLE, CANARY, STABLE, CANARY]
    canary_cookie = cookie_of(first[1].set_cookie)
    assert canary_cookie == b"cw=canary.h1.50"
    assert b"Max-Age=3600" in (first[1].set_cookie or b"")
    # the holder of a canary cookie stays on the canary, whatever the split says
    for _ in range(5):
        choice = live.choose(None, b"other=1; " + canary_cookie)
        assert (choice.version, choice.reason, choice.set_cookie) == (CANARY, "sticky", None)
    # a new release (new canary hash) invalidates it: the split decides and a new cookie is set
    live2 = table({**spec, "canaryHash": "h2"}).routes[0]
    fresh = [live2.choose(None, canary_cookie) for _ in range(2)]
    assert [c.reason for c in fresh] == ["weight", "weight"]
    assert cookie_of(fresh[0].set_cookie).startswith(b"cw=stable.h2.")


def test_stable_cookie_expires_when_the_weight_changes() -> None:
    spec = {"name": "web", "weight": 20, "canaryHash": "h", "sticky": {"cookie": "cw"}}
    cookie = b"cw=stable.h.20"
    assert table(spec).routes[0].choose(None, cookie).reason == "sticky"
    assert table({**spec, "weight": 50}).routes[0].choose(None, cookie).reason == "weight"


@pytest.mark.parametrize("weight", [0, 100])
def test_no_cookie_without_a_choice(weight: int) -> None:
    live = table({"name": "web", "weight": weight, "sticky": {"cookie": "cw"}}).routes[0]
    choice = live.choose(None, b"cw=canary..50")
    assert choice.set_cookie is None and choice.reason == "weight"
    assert choice.version == (CANARY if weight == 100 else STABLE)


def test_header_route_beats_sticky_cookie() -> None:
    live = table({"name": "web", "weight": 50, "sticky": {"cookie": "cw"},
                  "headerRoutes": HEADER_ROUTES[:1]}).routes[0]
    assert live.choose({"x-canary": "yes"}, b"cw=stable..50").reason == "header:exact"


@pytest.mark.parametrize(("method", "path", "headers", "mirrored"), [
    ("GET", "/a", {}, True),
    ("POST", "/a", {}, False),
    ("POST", "/api/x", {"x-m": "1"}, True),
    ("POST", "/api/x", {}, False),
])
def test_mirror_matches_any_entry_and_all_fields(method: str, path: str,
                                                 headers: dict[str, str], mirrored: bool) -> None:
    live = table({"name": "web", "mirror": {"percentage": 100, "match": [
        {"method": {"exact": "GET"}},
        {"path": {"prefix": "/api/"}, "headers": {"X-M": {"exact": "1"}}},
    ]}}).routes[0]
    assert live.wants_mirror(method, path, headers) is mirrored


def test_mirror_percentage_counts_matching_requests_only() -> None:
    live = table({"name": "web", "mirror": {"percentage": 50,
                                            "match": [{"method": {"exact": "GET"}}]}}).routes[0]
    results = [live.wants_mirror(m, "/", {}) for m in ["GET", "POST"] * 10]
    assert sum(results) == 5 and not any(results[1::2])
