"""route_state_at: what steps 0..N put in force; apply_state: a router driven there."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.routers.fixtures import client_with, target
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers
from webhook.routers.proxy import configmap_name, routes_of
from webhook.routers.state import RouteState, apply_state, route_state_at
from webhook.spec import HeaderMatch, SetHeaderRoute, SetMirrorRoute, StringMatch, parse_steps
from webhook.spec.problems import Problems


def steps(text: str) -> Any:
    problems = Problems()
    parsed = parse_steps(yaml.safe_load(text), "steps", problems)
    assert not problems, list(problems)
    return parsed


STEPS = steps(
    """
    - setWeight: 10
    - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
    - setMirrorRoute: {name: shadow, percentage: 20, match: [{method: {exact: GET}}]}
    - pause: {}
    - setWeight: 40
    - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "2"}}]}
    - setHeaderRoute: {name: alpha, match: [{headerName: X-Alpha, headerValue: {prefix: a}}]}
    - setHeaderRoute: {name: beta}
    - setMirrorRoute: {name: shadow}
    - setWeight: 100
    """
)
BETA1 = SetHeaderRoute("beta", (HeaderMatch("X-Beta", StringMatch.of("exact", "1")),))
BETA2 = SetHeaderRoute("beta", (HeaderMatch("X-Beta", StringMatch.of("exact", "2")),))
ALPHA = SetHeaderRoute("alpha", (HeaderMatch("X-Alpha", StringMatch.of("prefix", "a")),))
SHADOW = STEPS[2]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (-1, RouteState()),
        (0, RouteState(10)),
        (1, RouteState(10, (BETA1,))),
        (2, RouteState(10, (BETA1,), (SHADOW,))),
        (4, RouteState(40, (BETA1,), (SHADOW,))),
        (5, RouteState(40, (BETA2,), (SHADOW,))),
        (6, RouteState(40, (BETA2, ALPHA), (SHADOW,))),
        (7, RouteState(40, (ALPHA,), (SHADOW,), retired_header_routes=("beta",))),
        (8, RouteState(40, (ALPHA,), (), ("beta",), ("shadow",))),
        (9, RouteState(100, (ALPHA,), (), ("beta",), ("shadow",))),
        (50, RouteState(100, (ALPHA,), (), ("beta",), ("shadow",))),
    ],
)
def test_route_state_at(index: int, expected: RouteState) -> None:
    assert route_state_at(STEPS, index) == expected


def test_route_state_with_no_steps_is_weight_zero() -> None:
    assert route_state_at((), 3) == RouteState()


def test_a_replaced_route_keeps_its_place() -> None:
    state = route_state_at(STEPS[:7], 6)
    assert [r.name for r in state.header_routes] == ["beta", "alpha"]
    assert isinstance(state.mirror_routes[0], SetMirrorRoute)


ANNOTATIONS = {"canarist.io/traffic-router": "proxy", "canarist.io/proxy-hosts": "web.example.com"}


async def test_apply_state_drives_a_router_and_removes_retired_routes() -> None:
    t = target(ANNOTATIONS)
    client = client_with()
    (router,) = build_routers(t, client)
    ref = ObjectRef("v1", "ConfigMap", "shop", configmap_name(t))

    await apply_state(router, route_state_at(STEPS, 6), canary_hash="c1", stable_hash="s1")
    (route,) = routes_of(client.peek(ref) or {})["routes"]
    assert route["weight"] == 40
    assert [h["name"] for h in route["headerRoutes"]] == ["beta", "alpha"]
    assert route["mirror"]["percentage"] == 20
    assert (route["canaryHash"], route["stableHash"]) == ("c1", "s1")

    await apply_state(router, route_state_at(STEPS, 9), canary_hash="c1", stable_hash="s1")
    (route,) = routes_of(client.peek(ref) or {})["routes"]
    assert route["weight"] == 100
    assert [h["name"] for h in route["headerRoutes"]] == ["alpha"]
    assert "mirror" not in route


async def test_apply_state_twice_writes_nothing_the_second_time() -> None:
    client = client_with()
    (router,) = build_routers(target(ANNOTATIONS), client)
    state = route_state_at(STEPS, 6)
    await apply_state(router, state, canary_hash="c1", stable_hash="s1")
    before = len(client.writes)
    assert await apply_state(router, state, canary_hash="c1", stable_hash="s1") is None
    assert len(client.writes) == before
