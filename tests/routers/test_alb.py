"""alb: the actions/conditions annotations exactly as Argo Rollouts writes them."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import client_with, obj, target
from tests.routers.validation import assert_valid
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers
from webhook.routers.alb import (
    action_key,
    conditions_key,
    header_conditions,
    released,
    weight_action,
    with_header_route,
    with_weight,
)
from webhook.routers.objects import Records
from webhook.spec import HeaderMatch, SetHeaderRoute, Sticky, StringMatch
from webhook.spec.names import MANAGED_BY

ANN = {
    "canarist.io/traffic-router": "alb",
    "canarist.io/alb-ingress": "web-alb",
    "canarist.io/alb-service-port": "443",
}
T = target(ANN)
INGRESS = obj(
    """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web-alb
      annotations: {alb.ingress.kubernetes.io/scheme: internet-facing}
    spec:
      ingressClassName: alb
      rules:
      - host: shop.example.com
        http:
          paths:
          - path: /static
            pathType: Prefix
            backend: {service: {name: static, port: {number: 80}}}
          - path: /*
            pathType: ImplementationSpecific
            backend: {service: {name: web, port: {name: use-annotation}}}
      - host: admin.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
    """
)
ACTION = "alb.ingress.kubernetes.io/actions.web"


def header(name: str, *values: tuple[str, str]) -> SetHeaderRoute:
    return SetHeaderRoute(
        name, tuple(HeaderMatch(h, StringMatch.of("exact", v)) for h, v in values)
    )


@pytest.mark.parametrize(
    ("weight", "sticky", "expected"),
    [
        (
            10,
            None,
            '{"Type":"forward","ForwardConfig":{"TargetGroups":['
            '{"ServiceName":"web-canary","ServicePort":"443","Weight":10},'
            '{"ServiceName":"web","ServicePort":"443","Weight":90}]}}',
        ),
        (
            0,
            None,
            '{"Type":"forward","ForwardConfig":{"TargetGroups":['
            '{"ServiceName":"web-canary","ServicePort":"443","Weight":0},'
            '{"ServiceName":"web","ServicePort":"443","Weight":100}]}}',
        ),
        (
            100,
            Sticky("c", 600),
            '{"Type":"forward","ForwardConfig":{"TargetGroups":['
            '{"ServiceName":"web-canary","ServicePort":"443","Weight":100},'
            '{"ServiceName":"web","ServicePort":"443","Weight":0}],'
            '"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":600}}}',
        ),
    ],
)
def test_weight_action_is_argo_rollouts_byte_for_byte(
    weight: int, sticky: Sticky | None, expected: str
) -> None:
    assert weight_action("web-canary", "web", 443, weight, sticky) == expected


@given(st.integers(0, 100))
def test_weights_sum_to_100_with_the_canary_first(weight: int) -> None:
    groups = json.loads(weight_action("c", "s", 80, weight))["ForwardConfig"]["TargetGroups"]
    assert [g["ServiceName"] for g in groups] == ["c", "s"]
    assert [g["Weight"] for g in groups] == [weight, 100 - weight]
    assert all(isinstance(g["ServicePort"], str) for g in groups)


def test_header_conditions_merge_values_of_one_header() -> None:
    matches = header("r", ("X-Canary", "a"), ("User-Agent", "bot"), ("x-canary", "b")).matches
    assert header_conditions(matches, "here") == (
        '[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Canary",'
        '"values":["a","b"]}},{"field":"http-header","httpHeaderConfig":'
        '{"httpHeaderName":"User-Agent","values":["bot"]}}]'
    )


def test_header_conditions_refuse_non_exact_values() -> None:
    prefix = (HeaderMatch("X", StringMatch.of("prefix", "a")),)
    with pytest.raises(RouterError, match="here: ALB matches header values exactly only"):
        header_conditions(prefix, "here")


def test_with_weight_writes_the_action_and_leaves_the_rest() -> None:
    out = with_weight(copy.deepcopy(INGRESS), T, 20)
    ann = out["metadata"]["annotations"]
    assert json.loads(ann[ACTION])["ForwardConfig"]["TargetGroups"][0]["Weight"] == 20
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert out["spec"] == INGRESS["spec"]
    assert Records.of(out).get("web").annotations == (ACTION,)
    assert_valid(out)


def test_root_service_names_the_action() -> None:
    t = target({**ANN, "canarist.io/alb-root-service": "root"})
    ingress = copy.deepcopy(INGRESS)
    path = ingress["spec"]["rules"][0]["http"]["paths"][1]
    path["backend"]["service"]["name"] = "root"
    out = with_weight(ingress, t, 5)
    groups = json.loads(out["metadata"]["annotations"][action_key("root")])
    assert [g["ServiceName"] for g in groups["ForwardConfig"]["TargetGroups"]] == [
        "web-canary",
        "web",
    ]


def test_an_ingress_without_the_use_annotation_path_is_refused() -> None:
    ingress = copy.deepcopy(INGRESS)
    ingress["spec"]["rules"][0]["http"]["paths"][1]["backend"]["service"]["port"] = {"number": 80}
    with pytest.raises(RouterError) as err:
        with_weight(ingress, T, 10)
    text = str(err.value)
    assert "Ingress shop/web-alb" in text and "'use-annotation'" in text
    assert "spec.rules[].http.paths[].backend.service" in text


def test_a_header_route_adds_its_annotations_and_a_path_in_front_of_the_root_rule_only() -> None:
    out = with_header_route(copy.deepcopy(INGRESS), T, header("beta", ("X-Canary", "yes")))
    ann = out["metadata"]["annotations"]
    assert json.loads(ann[action_key("beta")]) == {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"ServiceName": "web-canary", "ServicePort": "443", "Weight": 100}]
        },
    }
    assert json.loads(ann[conditions_key("beta")])[0]["httpHeaderConfig"]["values"] == ["yes"]
    first, admin = out["spec"]["rules"]
    assert first["http"]["paths"][0] == {
        "path": "/*",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "beta", "port": {"name": "use-annotation"}}},
    }
    assert first["http"]["paths"][1:] == INGRESS["spec"]["rules"][0]["http"]["paths"]
    assert admin == INGRESS["spec"]["rules"][1]
    assert_valid(out)


def test_header_routes_stay_in_the_order_they_were_set_and_removal_restores_the_ingress() -> None:
    out = with_weight(copy.deepcopy(INGRESS), T, 10)
    base = copy.deepcopy(out)
    out = with_header_route(out, T, header("one", ("A", "1")))
    out = with_header_route(out, T, header("two", ("B", "2")))
    out = with_header_route(out, T, header("one", ("A", "3")))  # replaced, keeps its place
    paths = out["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["one", "two", "static", "web"]
    out = with_header_route(out, T, SetHeaderRoute("one"))
    out = with_header_route(out, T, SetHeaderRoute("two"))
    assert out == base


def test_removal_of_an_unknown_route_changes_nothing() -> None:
    before = with_weight(copy.deepcopy(INGRESS), T, 10)
    assert with_header_route(copy.deepcopy(before), T, SetHeaderRoute("nope")) == before


def test_two_deployments_share_one_ingress_without_touching_each_other() -> None:
    api = target(
        {**ANN, "canarist.io/alb-root-service": "api"},
        name="api",
        stable="api",
        canary="api-canary",
    )
    ingress = copy.deepcopy(INGRESS)
    ingress["spec"]["rules"][1]["http"]["paths"].append(
        {
            "path": "/*",
            "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": "api", "port": {"name": "use-annotation"}}},
        }
    )
    out = with_weight(ingress, T, 10)
    out = with_weight(out, api, 30)
    out = with_header_route(out, api, header("api-beta", ("X", "1")))
    with pytest.raises(
        RouterError, match="'api-beta' is already managed there for Deployment 'api'"
    ):
        with_header_route(copy.deepcopy(out), T, header("api-beta", ("X", "1")))
    out = released(out, T)
    ann = out["metadata"]["annotations"]
    assert json.loads(ann[ACTION])["ForwardConfig"]["TargetGroups"] == [
        {"ServiceName": "web", "ServicePort": "443", "Weight": 100}
    ]
    assert action_key("api-beta") in ann
    assert json.loads(ann[MANAGED_BY]).keys() == {"api"}


async def test_adapter_release_through_the_offline_client() -> None:
    client = client_with(INGRESS)
    (router,) = build_routers(T, client)
    ref = ObjectRef.of(INGRESS)

    await router.set_weight(10)
    await router.set_weight(10)
    assert len(client.writes) == 1
    await router.set_header_route(header("beta", ("X-Canary", "yes")))
    await router.set_weight(50)
    assert len(client.writes) == 3
    current = client.peek(ref)
    assert current is not None
    assert_valid(current)
    assert (
        json.loads(current["metadata"]["annotations"][ACTION])["ForwardConfig"]["TargetGroups"][0][
            "Weight"
        ]
        == 50
    )
    assert await router.verify_weight(50) is None

    await router.remove_managed_routes()
    current = client.peek(ref)
    assert current is not None
    assert current["spec"] == INGRESS["spec"]
    await router.cleanup()
    current = client.peek(ref)
    assert current is not None
    ann = current["metadata"]["annotations"]
    assert MANAGED_BY not in ann and ann["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert json.loads(ann[ACTION])["ForwardConfig"]["TargetGroups"][0]["ServiceName"] == "web"


async def test_adapter_names_the_missing_ingress_and_its_annotation() -> None:
    (router,) = build_routers(T, client_with())
    with pytest.raises(
        RouterError, match=r"Ingress shop/web-alb not found \(named by canarist.io/alb-ingress\)"
    ):
        await router.set_weight(10)
