"""istio: header and mirror routes, placed above the route they split, removed exactly."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.routers.fixtures import client_with, obj, target
from tests.routers.validation import assert_valid
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers, route_state_at
from webhook.routers.istio import rebuild
from webhook.routers.istio_match import combine, header_element, mirror_element
from webhook.routers.istio_vs import Split, header_builder, mirror_builder
from webhook.routers.objects import Records
from webhook.routers.state import apply_state
from webhook.spec import HeaderMatch, MirrorMatch, SetHeaderRoute, SetMirrorRoute, StringMatch
from webhook.spec import VirtualServiceRef as Ref

HOST = Split("shop", "web", "web-canary")
VS = obj(
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: web}
    spec:
      hosts: [shop.example.com]
      http:
      - name: api
        match: [{uri: {prefix: /api}}]
        route: [{destination: {host: api}}]
      - name: primary
        route:
        - {destination: {host: web.shop.svc.cluster.local, port: {number: 80}}, weight: 100}
    """
)


def sm(kind: str, value: str) -> StringMatch:
    return StringMatch.of(kind, value)  # type: ignore[arg-type]


BETA = SetHeaderRoute("beta", (HeaderMatch("X-Canary", sm("exact", "always")),))
SHADOW = SetMirrorRoute(
    "shadow", 35, (MirrorMatch(method=sm("exact", "GET"), path=sm("prefix", "/")),)
)


def header(
    vs: dict[str, Any], step: SetHeaderRoute, owner: str = "web", split: Split = HOST
) -> dict[str, Any]:
    ref = Ref(vs["metadata"]["name"])
    builder = (
        header_builder(split, header_element(step.matches, "w"), "w") if step.matches else None
    )
    return rebuild(vs, ref, split, owner, {step.name: builder})


def mirror(vs: dict[str, Any], step: SetMirrorRoute, owner: str = "web") -> dict[str, Any]:
    elements = [mirror_element(m, "w") for m in step.matches]
    builder = mirror_builder(HOST, elements, step.percentage, "w") if step.matches else None
    return rebuild(vs, Ref("web"), HOST, owner, {step.name: builder})


def names(vs: dict[str, Any]) -> list[str]:
    return [r.get("name", "?") for r in vs["spec"]["http"]]


def test_header_route_is_argo_shaped_and_sits_right_above_the_split_route() -> None:
    out = header(rebuild(copy.deepcopy(VS), Ref("web"), HOST, "web", {}, 10), BETA)
    assert names(out) == ["api", "beta", "primary"]  # /api keeps its precedence
    assert out["spec"]["http"][1] == {
        "name": "beta",
        "match": [{"headers": {"x-canary": {"exact": "always"}}}],
        "route": [
            {
                "destination": {
                    "host": "web-canary.shop.svc.cluster.local",
                    "port": {"number": 80},
                },
                "weight": 100,
            }
        ],
    }
    assert_valid(out)


def test_mirror_route_copies_the_weighted_destinations_and_follows_weight_changes() -> None:
    out = mirror(rebuild(copy.deepcopy(VS), Ref("web"), HOST, "web", {}, 10), SHADOW)
    route = out["spec"]["http"][1]
    assert route["name"] == "shadow"
    assert route["match"] == [{"method": {"exact": "GET"}, "uri": {"prefix": "/"}}]
    assert route["mirror"] == {"host": "web-canary.shop.svc.cluster.local", "port": {"number": 80}}
    assert route["mirrorPercentage"] == {"value": 35.0}
    assert [d["weight"] for d in route["route"]] == [90, 10]
    out = rebuild(out, Ref("web"), HOST, "web", {}, 60)
    assert [d["weight"] for d in out["spec"]["http"][1]["route"]] == [40, 60]
    assert out["spec"]["http"][1]["route"] == out["spec"]["http"][2]["route"]
    assert_valid(out)


def test_routes_keep_their_order_and_removal_gives_back_the_weighted_vs() -> None:
    weighted = rebuild(copy.deepcopy(VS), Ref("web"), HOST, "web", {}, 10)
    out = header(copy.deepcopy(weighted), BETA)
    out = mirror(out, SHADOW)
    out = header(out, SetHeaderRoute("beta", (HeaderMatch("X-Canary", sm("prefix", "v2")),)))
    assert names(out) == ["api", "beta", "shadow", "primary"]
    assert out["spec"]["http"][1]["match"] == [{"headers": {"x-canary": {"prefix": "v2"}}}]
    out = header(out, SetHeaderRoute("beta"))
    out = mirror(out, SetMirrorRoute("shadow"))
    assert out == weighted


def test_managed_routes_only_catch_what_the_split_route_catches() -> None:
    vs = copy.deepcopy(VS)
    vs["spec"]["http"][1]["match"] = [
        {"uri": {"prefix": "/shop"}, "ignoreUriCase": True},
        {"uri": {"exact": "/"}},
    ]
    out = header(copy.deepcopy(vs), BETA)
    assert out["spec"]["http"][1]["match"] == [
        {
            "uri": {"prefix": "/shop"},
            "ignoreUriCase": True,
            "headers": {"x-canary": {"exact": "always"}},
        },
        {"uri": {"exact": "/"}, "headers": {"x-canary": {"exact": "always"}}},
    ]
    narrow = SetMirrorRoute("shadow", 5, (MirrorMatch(path=sm("prefix", "/shop/cart")),))
    out = mirror(out, narrow)
    assert out["spec"]["http"][2]["match"] == [
        {"uri": {"prefix": "/shop/cart"}, "ignoreUriCase": True}  # "/" exact cannot be /shop/cart
    ]
    assert (
        out["spec"]["http"][3]["match"] == vs["spec"]["http"][1]["match"]
    )  # the user's, untouched


@pytest.mark.parametrize(
    ("theirs", "ours", "expected"),
    [
        (None, [{"headers": {"x": {"exact": "1"}}}], [{"headers": {"x": {"exact": "1"}}}]),
        (
            [{"headers": {"X": {"prefix": "a"}}}],
            [{"headers": {"x": {"exact": "ab"}}}],
            [{"headers": {"x": {"exact": "ab"}}}],
        ),
        ([{"headers": {"x": {"exact": "b"}}}], [{"headers": {"x": {"exact": "a"}}}], []),
        ([{"method": {"exact": "POST"}}], [{"method": {"exact": "GET"}}], []),
        (
            [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}],
            [{"uri": {"prefix": "/b/c"}}],
            [{"uri": {"prefix": "/b/c"}}],
        ),
        (
            [{"headers": {"y": {}}}],
            [{"headers": {"x": {"exact": "1"}}}],
            [{"headers": {"y": {}, "x": {"exact": "1"}}}],
        ),
    ],
)
def test_combine(theirs: Any, ours: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert combine(theirs, ours, "w") == expected


def test_one_managed_route_per_split_route() -> None:
    vs = copy.deepcopy(VS)
    vs["spec"]["http"].append(
        {
            "name": "legacy",
            "match": [{"uri": {"prefix": "/old"}}],
            "route": [{"destination": {"host": "web"}, "weight": 100}],
        }
    )
    out = header(vs, BETA)
    assert names(out) == ["api", "beta", "primary", "beta-1", "legacy"]
    assert out["spec"]["http"][3]["route"][0]["destination"] == {"host": "web-canary"}
    assert Records.of(out).get("web").written_for("beta") == ("beta", "beta-1")
    assert_valid(out)


def test_route_names_of_the_user_or_of_another_deployment_are_refused() -> None:
    vs = copy.deepcopy(VS)
    vs["spec"]["http"][0]["name"] = "beta"
    with pytest.raises(
        RouterError, match="an http route named 'beta' exists and canarist does not manage it"
    ):
        header(vs, BETA)


def test_header_routes_need_an_http_route() -> None:
    vs = obj(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web}
        spec:
          hosts: [web]
          tcp: [{route: [{destination: {host: web}}]}]
        """
    )
    with pytest.raises(RouterError, match="header and mirror routes need an http route to split"):
        header(vs, BETA)


API = Split("shop", "api", "api-canary")


def test_two_deployments_share_a_virtual_service() -> None:
    vs = copy.deepcopy(VS)
    vs = rebuild(vs, Ref("web"), HOST, "web", {}, 10)
    vs = rebuild(vs, Ref("web"), API, "api", {}, 50)
    vs = header(vs, BETA)
    vs = header(vs, SetHeaderRoute("api-beta", BETA.matches), owner="api", split=API)
    assert names(vs) == ["api-beta", "api", "beta", "primary"]
    assert vs["spec"]["http"][0]["match"] == [
        {"uri": {"prefix": "/api"}, "headers": {"x-canary": {"exact": "always"}}}
    ]
    with pytest.raises(
        RouterError, match="'api-beta' is already managed there for Deployment 'api'"
    ):
        header(copy.deepcopy(vs), SetHeaderRoute("api-beta", BETA.matches))
    # web's release ends: api's routes and weights stay exactly as they are
    vs = rebuild(vs, Ref("web"), HOST, "web", {"beta": None}, 0)
    assert names(vs) == ["api-beta", "api", "primary"]
    assert [d["weight"] for d in vs["spec"]["http"][1]["route"]] == [50, 50]


STEPS_V1 = """
- setWeight: 10
- setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
- setMirrorRoute: {name: shadow, match: [{method: {exact: GET}}]}
- pause: {}
"""
STEPS_V2 = """
- setWeight: 5
- setHeaderRoute: {name: gamma, match: [{headerName: X-Gamma, headerValue: {exact: "1"}}]}
- pause: {}
"""


def vs_annotations(steps: str) -> dict[str, str]:
    return {
        "canarist.io/traffic-router": "istio",
        "canarist.io/istio-virtual-service": "web",
        "canarist.io/steps": steps,
    }


async def test_header_routes_do_not_pile_up_across_releases_argo_2769() -> None:
    client = client_with(VS)
    ref = ObjectRef.of(VS)
    first = target(vs_annotations(STEPS_V1))
    (router,) = build_routers(first, client)
    await apply_state(
        router, route_state_at(first.spec.steps, 2), canary_hash="c1", stable_hash="s"
    )
    current = client.peek(ref)
    assert current is not None and names(current) == ["api", "beta", "shadow", "primary"]

    # a new revision arrives mid-release, with other steps: the loop removes managed routes
    second = target(vs_annotations(STEPS_V2))
    (router,) = build_routers(second, client)
    await router.set_weight(0)
    await router.remove_managed_routes()
    await apply_state(
        router, route_state_at(second.spec.steps, 1), canary_hash="c2", stable_hash="s"
    )
    current = client.peek(ref)
    assert current is not None
    assert names(current) == ["api", "gamma", "primary"]
    assert_valid(current)

    await router.set_weight(0)
    await router.remove_managed_routes()
    await router.cleanup()
    current = client.peek(ref)
    assert current is not None and current["spec"] == VS["spec"]
    assert "annotations" not in current["metadata"]


async def test_steady_state_reconciles_write_nothing() -> None:
    client = client_with(VS)
    t = target(vs_annotations(STEPS_V1))
    (router,) = build_routers(t, client)
    state = route_state_at(t.spec.steps, 3)
    await apply_state(router, state, canary_hash="c1", stable_hash="s")
    writes = len(client.writes)
    for _ in range(3):
        await apply_state(router, state, canary_hash="c1", stable_hash="s")
    assert len(client.writes) == writes
    await router.set_weight(30)  # a weight change: one write to the one VirtualService
    assert len(client.writes) == writes + 1


def test_yaml_of_the_managed_vs_has_no_aliases() -> None:
    out = mirror(rebuild(copy.deepcopy(VS), Ref("web"), HOST, "web", {}, 10), SHADOW)
    assert "&id" not in yaml.safe_dump(out)
