"""Any sequence of router calls keeps shared objects valid and gives them back intact.

Hypothesis drives random sequences of weight changes, header and mirror routes (set, replaced,
removed) and route removal through the pure shape functions of the routers that edit objects
users own (Istio VirtualService, Gateway API HTTPRoute, ALB Ingress), with a second Deployment
sharing the object. After every call: the object validates, weights are in range and sum as
they should, the other Deployment's part is untouched, exactly the routes in force exist; at the
end, releasing gives back the user's object.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.routers.fixtures import obj, target
from tests.routers.validation import assert_valid
from webhook.routers import alb, gateway_api, istio
from webhook.routers.istio_match import header_element, mirror_element
from webhook.routers.istio_vs import Split, header_builder, mirror_builder
from webhook.routers.objects import Records
from webhook.spec import HeaderMatch, MirrorMatch, SetHeaderRoute, SetMirrorRoute, StringMatch
from webhook.spec import VirtualServiceRef as Ref

Op = tuple[str, Any]
values = st.sampled_from(["1", "2", "beta"])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("weight"), st.integers(0, 100)),
        st.tuples(st.just("header"), st.tuples(st.sampled_from(["h1", "h2"]), st.none() | values)),
        st.tuples(
            st.just("mirror"),
            st.tuples(st.sampled_from(["m1"]), st.none() | st.integers(0, 100)),
        ),
        st.tuples(st.just("remove"), st.none()),
    ),
    max_size=12,
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def header_step(name: str, value: str | None) -> SetHeaderRoute:
    if value is None:
        return SetHeaderRoute(name)
    return SetHeaderRoute(name, (HeaderMatch("X-Canary", StringMatch.of("exact", value)),))


def mirror_step(name: str, pct: int | None) -> SetMirrorRoute:
    if pct is None:
        return SetMirrorRoute(name)
    return SetMirrorRoute(name, pct, (MirrorMatch(method=StringMatch.of("exact", "GET")),))


def expected_routes(active: dict[str, bool], op: Op) -> None:
    kind, arg = op
    if kind == "remove":
        active.clear()
    elif kind in ("header", "mirror"):
        name, value = arg
        if value is None:
            active.pop(name, None)
        else:
            active[name] = True


VS = obj(
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: shared}
    spec:
      hosts: [shop.example.com]
      http:
      - name: api
        match: [{uri: {prefix: /api}}]
        route:
        - {destination: {host: api}, weight: 100}
      - name: web
        route:
        - {destination: {host: web, port: {number: 80}}}
    """
)
WEB = Split("shop", "web", "web-canary")
API = Split("shop", "api", "api-canary")


def istio_apply(vs: dict[str, Any], op: Op) -> dict[str, Any]:
    kind, arg = op
    ref = Ref("shared")
    if kind == "weight":
        return istio.rebuild(vs, ref, WEB, "web", {}, arg)
    if kind == "remove":
        names = Records.of(vs).get("web").route_names
        return istio.rebuild(vs, ref, WEB, "web", dict.fromkeys(names))
    if kind == "header":
        step = header_step(*arg)
        builder = (
            header_builder(WEB, header_element(step.matches, "w"), "w") if step.matches else None
        )
        return istio.rebuild(vs, ref, WEB, "web", {step.name: builder})
    step_m = mirror_step(*arg)
    elements = [mirror_element(m, "w") for m in step_m.matches]
    builder = mirror_builder(WEB, elements, step_m.percentage, "w") if step_m.matches else None
    return istio.rebuild(vs, ref, WEB, "web", {step_m.name: builder})


@SETTINGS
@given(ops, st.integers(0, 100))
def test_istio_sequences(sequence: list[Op], api_weight: int) -> None:
    vs = istio.rebuild(copy.deepcopy(VS), Ref("shared"), API, "api", {}, api_weight)
    api_part = copy.deepcopy(vs["spec"]["http"][0])
    original_web = copy.deepcopy(vs["spec"]["http"][1])
    active: dict[str, bool] = {}
    for op in sequence:
        vs = istio_apply(vs, op)
        expected_routes(active, op)
        assert_valid(vs)
        http = vs["spec"]["http"]
        assert http[0] == api_part  # the other Deployment's route, first and untouched
        assert [r["name"] for r in http[1:-1]] == list(active)
        assert http[-1]["name"] == "web"
        for route in http[1:]:
            dests = route["route"]
            total = sum(d.get("weight", 100 if len(dests) == 1 else 0) for d in dests)
            assert total == 100 and all(0 <= d.get("weight", 0) <= 100 for d in dests)
    vs = istio.released(vs, Ref("shared"), WEB, "web")
    assert vs["spec"]["http"][1] == original_web
    assert list(Records.of(vs).by_owner) == ["api"]


ROUTE = obj(
    """
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: shared}
    spec:
      rules:
      - matches: [{path: {type: PathPrefix, value: /api}}]
        backendRefs: [{name: api, port: 80}]
      - backendRefs: [{name: web, port: 80}, {name: legacy, port: 80, weight: 1}]
    """
)
GW_WEB = gateway_api.Backends("shop", "web", "web-canary")
GW_API = gateway_api.Backends("shop", "api", "api-canary")


def gateway_apply(route: dict[str, Any], op: Op) -> dict[str, Any]:
    kind, arg = op
    if kind == "weight":
        return gateway_api.rebuild(route, GW_WEB, "web", {}, arg)
    if kind == "remove":
        names = Records.of(route).get("web").route_names
        return gateway_api.rebuild(route, GW_WEB, "web", dict.fromkeys(names))
    if kind == "header":
        h = header_step(*arg)
        b = gateway_api.header_builder(GW_WEB, h, "w") if h.matches else None
        return gateway_api.rebuild(route, GW_WEB, "web", {h.name: b})
    m = mirror_step(*arg)
    b = gateway_api.mirror_builder(GW_WEB, m, "w") if m.matches else None
    return gateway_api.rebuild(route, GW_WEB, "web", {m.name: b})


@SETTINGS
@given(ops, st.integers(0, 100))
def test_gateway_sequences(sequence: list[Op], api_weight: int) -> None:
    route = gateway_api.rebuild(copy.deepcopy(ROUTE), GW_API, "api", {}, api_weight)
    api_rule = copy.deepcopy(route["spec"]["rules"][0])
    active: dict[str, bool] = {}
    for op in sequence:
        route = gateway_apply(route, op)
        expected_routes(active, op)
        assert_valid(route)
        rules = route["spec"]["rules"]
        assert rules[0] == api_rule
        assert [r["name"] for r in rules[2:]] == list(active)
        refs = {r["name"]: r.get("weight", 1) for r in rules[1]["backendRefs"]}
        if "web-canary" in refs:  # legacy keeps its share: 1 of 2 at first
            assert refs["legacy"] * 2 == sum(refs.values())
    route = gateway_api.released(route, GW_WEB, "web")
    assert {r["name"] for r in route["spec"]["rules"][1]["backendRefs"]} == {"web", "legacy"}
    assert list(Records.of(route).by_owner) == ["api"]


INGRESS = obj(
    """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: shared}
    spec:
      rules:
      - http:
          paths:
          - {path: /*, pathType: ImplementationSpecific,
             backend: {service: {name: web, port: {name: use-annotation}}}}
          - {path: /api/*, pathType: ImplementationSpecific,
             backend: {service: {name: api, port: {name: use-annotation}}}}
    """
)
ALB_ANN = {
    "canarist.io/traffic-router": "alb",
    "canarist.io/alb-ingress": "shared",
    "canarist.io/alb-service-port": "80",
}
ALB_WEB = target(ALB_ANN)
ALB_API = target(ALB_ANN, name="api", stable="api", canary="api-canary")


def alb_apply(ingress: dict[str, Any], op: Op) -> dict[str, Any]:
    kind, arg = op
    if kind == "weight":
        return alb.with_weight(ingress, ALB_WEB, arg)
    if kind == "remove":
        return alb.without_routes(ingress, ALB_WEB)
    if kind == "header":
        return alb.with_header_route(ingress, ALB_WEB, header_step(*arg))
    return ingress  # ALB cannot mirror: admission refuses such steps


@SETTINGS
@given(ops)
def test_alb_sequences(sequence: list[Op]) -> None:
    ingress = alb.with_weight(copy.deepcopy(INGRESS), ALB_API, 30)
    ingress = alb.with_header_route(ingress, ALB_API, header_step("api-h", "1"))
    api_annotations = {k: v for k, v in ingress["metadata"]["annotations"].items() if "api" in k}
    active: dict[str, bool] = {}
    for op in sequence:
        ingress = alb_apply(ingress, op)
        if op[0] != "mirror":
            expected_routes(active, op)
        assert_valid(ingress)
        ann = ingress["metadata"]["annotations"]
        assert {k: v for k, v in ann.items() if "api" in k} == api_annotations
        paths = [
            p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]
        ]
        assert paths == [*active, "api-h", "web", "api"]
    ingress = alb.released(ingress, ALB_WEB)
    paths = [p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ["api-h", "web", "api"]
    assert list(Records.of(ingress).by_owner) == ["api"]
