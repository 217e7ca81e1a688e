"""The routes file: every field, every refusal with its path, round trips, fuzzing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.errors import ConfigError
from webhook.spec.routetable import (
    Endpoint,
    ServiceRef,
    dump_route_table,
    parse_endpoint,
    parse_route_table,
)

FULL = """
routes:
- name: web
  hosts: [web.example.com, "*.web.example.com"]
  pathPrefix: /api
  stable: {endpoints: ["127.0.0.2:8080", "[::1]:9000"]}
  canary: {endpoints: ["127.0.0.3:8080"]}
  weight: 10
  headerRoutes:
  - name: beta
    match: [{headerName: X-Canary, headerValue: {exact: "true"}}]
  mirror: {percentage: 50, match: [{method: {exact: GET}}]}
  sticky: {cookie: canarist-web, maxAge: 600}
  canaryHash: abc123
  stableHash: def456
- name: cluster
  stable: {service: web, port: 80}
  canary: {service: web-canary, port: 80}
"""


def test_every_field_is_read() -> None:
    table = parse_route_table(FULL)
    web, cluster = table.routes
    assert web.hosts == ("web.example.com", "*.web.example.com")
    assert web.path_prefix == "/api"
    assert web.stable.endpoints == (Endpoint("127.0.0.2", 8080), Endpoint("::1", 9000))
    assert web.weight == 10
    assert web.header_routes[0].name == "beta"
    assert web.header_routes[0].match[0].value.matches("true")
    assert web.mirror is not None and web.mirror.percentage == 50
    assert web.sticky is not None and web.sticky.max_age == 600
    assert (web.canary_hash, web.stable_hash) == ("abc123", "def456")
    assert table.service_refs() == {ServiceRef("web", 80), ServiceRef("web-canary", 80)}
    assert cluster.weight == 0 and cluster.path_prefix == "/"


@pytest.mark.parametrize("as_json", [False, True])
def test_written_text_reads_back_equal(as_json: bool) -> None:
    table = parse_route_table(FULL)
    assert parse_route_table(dump_route_table(table, as_json=as_json)) == table


def route(**fields: Any) -> str:
    base: dict[str, Any] = {"name": "web", "stable": {"endpoints": ["127.0.0.2:80"]},
                            "canary": {"endpoints": ["127.0.0.3:80"]}}
    base.update(fields)
    return json.dumps({"routes": [base]})


BAD = [
    ("", "routes: is required (the file is empty)"),
    ("routes: [", "YAML does not parse"),
    ("[1, 2]", "must be a mapping"),
    ("rutes: []", 'unknown key "rutes" (did you mean "routes"?)'),
    ("routes: {}", "routes: must be a list"),
    (route(weight=150), "routes[0].weight: must be between 0 and 100, got 150"),
    (route(weight="10"), "routes[0].weight: must be an integer"),
    (route(wieght=10), 'routes[0].wieght: unknown key "wieght" (did you mean "weight"?)'),
    (route(stable={"endpoints": ["nohost"]}), "routes[0].stable.endpoints[0]: must be HOST:PORT"),
    (route(stable={"endpoints": ["h:70000"]}), "routes[0].stable.endpoints[0]: must be HOST:PORT"),
    (route(stable={}), "routes[0].stable: must set endpoints"),
    (route(stable={"service": "web"}), "routes[0].stable.port: is required with service"),
    (route(stable={"endpoints": [], "service": "x", "port": 1}), "not both"),
    (route(hosts=["http://x"]), "routes[0].hosts[0]: invalid host name"),
    (route(pathPrefix="api"), "routes[0].pathPrefix: must be a URL path starting with '/'"),
    (route(headerRoutes=[{"name": "b", "match": [{"headerName": "X",
                                                  "headerValue": {"regex": "(?=a)"}}]}]),
     "routes[0].headerRoutes[0].match[0].headerValue.regex: invalid regular expression"),
    (route(headerRoutes=[{"name": "b"}]), "routes[0].headerRoutes[0].match: is required"),
    (route(mirror={"percentage": -1}), "routes[0].mirror.percentage: must be between 0 and 100"),
    (route(mirror={"match": [{"verb": {"exact": "GET"}}]}),
     'routes[0].mirror.match[0].verb: unknown key "verb"'),
    (route(sticky={"cookie": "a b"}), "routes[0].sticky.cookie: invalid cookie name"),
    (route(sticky={}), "routes[0].sticky.cookie: is required"),
    (route(canaryHash="a/b"), "routes[0].canaryHash: invalid hash"),
    (route(name="-x"), "routes[0].name: invalid name"),
    (json.dumps({"routes": [{"name": "a", "stable": {"endpoints": []}, "weight": 5}]}),
     "routes[0].weight: needs a canary backend"),
    (json.dumps({"routes": [{"name": "a", "stable": {"endpoints": []}},
                            {"name": "a", "stable": {"endpoints": []}}]}),
     'routes[1].name: duplicate route name "a"'),
    (json.dumps({"routes": [{"name": "a", "stable": {"endpoints": []}},
                            {"name": "b", "stable": {"endpoints": []}}]}),
     'routes[1]: host "*" with pathPrefix "/" is already served by route "a"'),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_tables_are_refused_with_the_path(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_route_table(text, subject="routes.yaml")
    message = str(info.value)
    assert message.startswith("routes.yaml: ")
    assert expected in message


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_route_table(route(weight=101, pathPrefix="x", sticky={"cookie": ""}))
    paths = {p.path for p in info.value.problems}
    assert {"routes[0].weight", "routes[0].pathPrefix", "routes[0].sticky.cookie"} <= paths


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:80", Endpoint("127.0.0.1", 80)),
    ("[::1]:443", Endpoint("::1", 443)),
    ("web.default.svc:8080", Endpoint("web.default.svc", 8080)),
    ("::1:80", None), ("host:", None), (":80", None), ("h:0", None), ("h:123456", None),
    ("a b:1", None),
])
def test_endpoints(text: str, expected: Endpoint | None) -> None:
    assert parse_endpoint(text) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 200) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["routes", "name", "stable", "canary", "weight",
                                       "endpoints", "hosts", "pathPrefix", "headerRoutes",
                                       "mirror", "sticky", "match", "percentage", "cookie",
                                       "service", "port", "headerName", "headerValue",
                                       "exact", "regex", "prefix", "method", "x"]),
                      inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzzed_structures_parse_or_fail_clearly(value: Any) -> None:
    try:
        table = parse_route_table(yaml.safe_dump({"routes": value}))
    except ConfigError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert parse_route_table(dump_route_table(table)) == table


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_text_parses_or_fails_clearly(text: str) -> None:
    try:
        parse_route_table(text)
    except ConfigError as exc:
        assert str(exc)
