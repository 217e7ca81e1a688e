"""nginx: the canary Ingress cloned from the stable one, and gone when it routes nothing."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from tests.routers.fixtures import UID, client_with, obj, target
from tests.routers.ingress_nginx_rules import check
from tests.routers.validation import assert_valid
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import Router, build_routers
from webhook.routers.nginx import (
    CanaryState,
    canary_ingress_name,
    desired_canary,
    header_annotations,
    read_state,
    with_header_route,
)
from webhook.routers.nginx_affinity import stable_with_affinity
from webhook.spec import HeaderMatch, SetHeaderRoute, StringMatch
from webhook.spec.names import MANAGED_BY

P = "nginx.ingress.kubernetes.io/"
ANN = {"canarist.io/traffic-router": "nginx", "canarist.io/nginx-ingress": "web"}
T = target(ANN)
STABLE = obj(
    """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
      labels: {app.kubernetes.io/instance: shop}
      annotations:
        kubernetes.io/ingress.class: nginx
        nginx.ingress.kubernetes.io/proxy-body-size: 8m
    spec:
      ingressClassName: nginx
      tls: [{hosts: [shop.example.com], secretName: shop-tls}]
      rules:
      - host: shop.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 443}}}}
          - {path: /img, pathType: Prefix, backend: {service: {name: images, port: {name: http}}}}
      - host: admin.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
    """
)
CANARY_REF = ObjectRef("networking.k8s.io/v1", "Ingress", "shop", "web-web-canary")


def exact(name: str, value: str) -> SetHeaderRoute:
    return SetHeaderRoute(name, (HeaderMatch("X-Canary", StringMatch.of("exact", value)),))


def test_canary_ingress_is_a_clone_that_keeps_class_and_tls_argo_1425() -> None:
    out = desired_canary(STABLE, None, T, CanaryState(20))
    assert out is not None
    assert out["metadata"]["name"] == "web-web-canary"
    assert out["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert "labels" not in out["metadata"]  # Argo CD must not take it for part of the app
    spec = out["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == STABLE["spec"]["tls"]
    (rule,) = spec["rules"]  # the admin rule does not use the stable Service
    assert rule["host"] == "shop.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "web-canary",
        "port": {"number": 443},
    }
    assert rule["http"]["paths"][1] == STABLE["spec"]["rules"][0]["http"]["paths"][1]
    ann = out["metadata"]["annotations"]
    assert ann["kubernetes.io/ingress.class"] == "nginx"
    assert ann[P + "canary"] == "true" and ann[P + "canary-weight"] == "20"
    assert P + "proxy-body-size" not in ann
    assert json.loads(ann[MANAGED_BY]) == {
        "web": {"annotations": sorted(k for k in ann if k != MANAGED_BY)}
    }
    assert_valid(out)


def test_nothing_to_route_means_no_canary_ingress() -> None:
    assert desired_canary(STABLE, None, T, CanaryState(0)) is None
    existing = desired_canary(STABLE, None, T, CanaryState(30))
    assert desired_canary(STABLE, existing, T, CanaryState(0)) is None


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("exact", "v2", {P + "canary-by-header": "X-Canary", P + "canary-by-header-value": "v2"}),
        (
            "prefix",
            "v2.",
            {P + "canary-by-header": "X-Canary", P + "canary-by-header-pattern": r"^v2\..*"},
        ),
        (
            "regex",
            "v[0-9]+|beta",
            {
                P + "canary-by-header": "X-Canary",
                P + "canary-by-header-pattern": "^(?:v[0-9]+|beta)$",
            },
        ),
    ],
)
def test_header_annotations(kind: str, value: str, expected: dict[str, str]) -> None:
    match = HeaderMatch("X-Canary", StringMatch.of(kind, value))  # type: ignore[arg-type]
    assert dict(header_annotations(match)) == expected


@pytest.mark.parametrize(
    ("kind", "value", "header", "hit"),
    [
        ("prefix", "v2.", "v2.1", True),
        ("prefix", "v2.", "xv2.1", False),
        ("prefix", "v2.", "v201", False),
        ("regex", "v[0-9]+|beta", "beta", True),
        ("regex", "v[0-9]+|beta", "betamax", False),
    ],
)
def test_header_patterns_match_what_the_step_means(
    kind: str, value: str, header: str, hit: bool
) -> None:
    pattern = dict(header_annotations(HeaderMatch("X", StringMatch.of(kind, value))))[  # type: ignore[arg-type]
        P + "canary-by-header-pattern"
    ]
    assert bool(re.search(pattern, header)) is hit  # ingress-nginx searches, unanchored


def test_one_header_route_at_a_time() -> None:
    state = with_header_route(CanaryState(10), exact("one", "1"), "here")
    assert with_header_route(state, exact("one", "2"), "here").header_route == "one"
    with pytest.raises(
        RouterError, match=r"here: ingress-nginx takes one header route.*'one' is in force"
    ):
        with_header_route(state, exact("two", "1"), "here")
    assert with_header_route(state, SetHeaderRoute("two"), "here") == state
    assert with_header_route(state, SetHeaderRoute("one"), "here") == CanaryState(10)


def test_state_round_trips_through_the_object() -> None:
    state = with_header_route(CanaryState(35), exact("beta", "yes"), "here")
    out = desired_canary(STABLE, None, T, state)
    assert read_state(out, "web") == replace(state, held=True)  # it exists: a release is on
    assert read_state(None, "web") == CanaryState()


def test_extra_annotations_sticky_and_static_header_routes() -> None:
    t = target(
        {
            **ANN,
            "canarist.io/sticky": "beta-users",
            "canarist.io/nginx-annotations": json.dumps(
                {
                    "canary-by-header": "X-Static",
                    "load-balance": "ewma",
                    "canary-weight": "99",
                    "canary-weight-total": "1000",
                    "example.com/team": "web",
                }
            ),
        }
    )
    out = desired_canary(STABLE, None, t, CanaryState(10))
    assert out is not None
    ann = out["metadata"]["annotations"]
    assert ann[P + "canary-by-header"] == "X-Static"  # a static header route, as Argo users pasted
    assert ann[P + "load-balance"] == "ewma" and ann["example.com/team"] == "web"
    assert ann[P + "canary-weight"] == "10" and ann[P + "canary-weight-total"] == "100"
    assert P + "canary-by-cookie" not in ann  # not stickiness: it only obeys always/never
    assert ann[P + "affinity"] == "cookie" and ann[P + "session-cookie-name"] == "beta-users"
    routed = desired_canary(
        STABLE, out, t, with_header_route(CanaryState(10), exact("h", "1"), "x")
    )
    assert routed is not None
    assert routed["metadata"]["annotations"][P + "canary-by-header"] == "X-Canary"


def test_annotations_of_others_on_the_canary_ingress_survive_ours_are_replaced() -> None:
    out = desired_canary(STABLE, None, T, with_header_route(CanaryState(10), exact("h", "1"), "x"))
    assert out is not None
    out["metadata"]["annotations"]["other-tool/seen"] = "yes"
    again = desired_canary(STABLE, out, T, CanaryState(10))
    assert again is not None
    ann = again["metadata"]["annotations"]
    assert ann["other-tool/seen"] == "yes"
    assert P + "canary-by-header" not in ann and P + "canary-by-header-value" not in ann


def test_a_canary_ingress_of_someone_else_is_never_touched() -> None:
    foreign = copy.deepcopy(STABLE)
    foreign["metadata"]["name"] = "web-web-canary"
    with pytest.raises(RouterError, match="not owned by Deployment 'web'"):
        desired_canary(STABLE, foreign, T, CanaryState(10))


def test_a_stable_ingress_without_the_stable_service_is_refused() -> None:
    other = copy.deepcopy(STABLE)
    other["spec"]["rules"] = other["spec"]["rules"][1:]
    with pytest.raises(
        RouterError,
        match=r"Ingress shop/web has no rule sending a path to Service 'web' \(spec.rules",
    ):
        desired_canary(other, None, T, CanaryState(10))


def test_long_names_are_cut_to_253() -> None:
    name = canary_ingress_name("d" * 200, "i" * 200)
    assert len(name) == 253 and name.endswith("-canary")


async def test_adapter_release_then_end_deletes_the_canary_ingress() -> None:
    client = client_with(STABLE)
    (router,) = build_routers(T, client)
    await router.set_weight(0)
    assert client.peek(CANARY_REF) is None and client.writes == []
    await router.set_weight(20)
    await router.set_weight(20)
    await router.set_header_route(exact("beta", "1"))
    await router.set_weight(60)
    assert [verb for verb, _ in client.writes] == ["create", "replace", "replace"]
    current = client.peek(CANARY_REF)
    assert current is not None
    assert_valid(current)
    assert current["metadata"]["annotations"][P + "canary-weight"] == "60"
    await router.set_weight(0)  # header route still in force: the Ingress stays
    assert client.peek(CANARY_REF) is not None
    await router.remove_managed_routes()
    assert client.peek(CANARY_REF) is None
    stable = client.peek(ObjectRef.of(STABLE))
    assert stable is not None and stable["metadata"]["resourceVersion"] == "3"  # never written
    assert stable["spec"] == STABLE["spec"]


async def test_removing_routing_leaves_no_orphan_argo_4751() -> None:
    client = client_with(STABLE)
    (router,) = build_routers(T, client)
    await router.set_weight(40)
    assert client.peek(CANARY_REF) is not None
    await router.cleanup()
    assert client.peek(CANARY_REF) is None
    await router.cleanup()  # idempotent


async def test_a_changed_stable_ingress_is_followed_at_the_next_write() -> None:
    client = client_with(STABLE)
    (router,) = build_routers(T, client)
    await router.set_weight(10)
    stable = client.peek(ObjectRef.of(STABLE))
    assert stable is not None
    stable["spec"]["tls"][0]["hosts"].append("www.example.com")
    await client.replace(stable)
    await router.set_weight(10)
    current = client.peek(CANARY_REF)
    assert current is not None
    assert current["spec"]["tls"][0]["hosts"] == ["shop.example.com", "www.example.com"]


async def test_missing_stable_ingress_names_the_option() -> None:
    (router,) = build_routers(T, client_with())
    with pytest.raises(
        RouterError, match=r"Ingress shop/web not found \(named by canarist.io/nginx-ingress\)"
    ):
        await router.set_weight(10)


STATIC_HEADER = json.dumps({"canary-by-header": "X-Canary"})


@pytest.mark.parametrize(
    ("extras", "state", "exists"),
    [
        ({}, CanaryState(0, held=True), False),
        ({"canary-by-header": "X-Canary"}, CanaryState(0, held=True), True),
        ({"canary-by-cookie": "beta"}, CanaryState(0, held=True), True),
        ({"canary-by-header": "X-Canary"}, CanaryState(0, held=False), False),  # no release
        ({"canary-by-header-value": "1"}, CanaryState(0, held=True), False),  # needs the header
        ({"load-balance": "ewma"}, CanaryState(0, held=True), False),
        ({}, CanaryState(1), True),
    ],
)
def test_the_canary_ingress_exists_whenever_it_routes_anything(
    extras: dict[str, str], state: CanaryState, exists: bool
) -> None:
    t = target({**ANN, "canarist.io/nginx-annotations": json.dumps(extras)})
    out = desired_canary(STABLE, None, t, state)
    assert (out is not None) is exists
    if out is not None:
        assert out["metadata"]["annotations"][P + "canary-weight"] == str(state.weight)


async def test_static_routes_hold_the_canary_ingress_at_weight_0_until_the_release_ends() -> None:
    """Each reconcile drives fresh routers in the loop's order (routes, hashes, weight; the
    weight first when it goes down; ``remove_managed_routes`` after)."""
    t = target({**ANN, "canarist.io/nginx-annotations": STATIC_HEADER})
    client = client_with(STABLE)

    def router() -> Router:
        (one,) = build_routers(t, client)
        return one

    r = router()  # a release starts
    await r.update_hash("v2", "v1")
    await r.set_weight(0)
    current = client.peek(CANARY_REF)
    assert current is not None
    ann = current["metadata"]["annotations"]
    assert (ann[P + "canary-weight"], ann[P + "canary-by-header"]) == ("0", "X-Canary")
    r = router()  # a resync mid-release
    await r.update_hash("v2", "v1")
    await r.set_weight(0)
    await r.remove_managed_routes()
    assert client.peek(CANARY_REF) is not None
    r = router()
    await r.set_header_route(exact("beta", "1"))
    await r.update_hash("v2", "v1")
    await r.set_weight(30)
    r = router()  # promotion done: weight down first, then the hashes, then the routes go
    await r.set_weight(0)
    await r.update_hash("v2", "v2")
    assert client.peek(CANARY_REF) is not None  # the header route is still in force
    await r.remove_managed_routes()
    assert client.peek(CANARY_REF) is None
    r = router()  # a resync at rest does not make it again
    await r.set_weight(0)
    await r.update_hash("v2", "v2")
    await r.remove_managed_routes()
    assert client.peek(CANARY_REF) is None


STICKY = {**ANN, "canarist.io/sticky": "true; max-age=2h"}


def stable_with(annotations: dict[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(STABLE)
    out["metadata"]["annotations"].update(annotations)
    return out


async def test_sticky_follows_ingress_nginxs_documented_affinity_rules() -> None:
    client = client_with(STABLE)
    (router,) = build_routers(target(STICKY), client)
    await router.set_weight(20)
    stable, canary = client.peek(ObjectRef.of(STABLE)), client.peek(CANARY_REF)
    assert stable is not None and canary is not None
    check(stable, canary, cookie="canarist-web", max_age=7200)
    assert_valid(canary)
    await router.set_weight(0)
    await router.update_hash("v2", "v2")
    assert client.peek(CANARY_REF) is None
    back = client.peek(ObjectRef.of(STABLE))
    assert back is not None
    assert back["metadata"]["annotations"] == STABLE["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("theirs", "kept", "message"),
    [
        ({P + "affinity": "cookie"}, {P + "affinity": "cookie"}, None),
        ({P + "session-cookie-name": "canarist-web"}, {}, None),
        ({P + "session-cookie-name": "route"}, None, "has nginx.ingress.kubernetes.io/session-"
         "cookie-name: 'route' and canarist.io/sticky asks for 'canarist-web'"),
        ({P + "session-cookie-max-age": "60"}, None, "asks for '7200'"),
    ],
)
def test_stable_affinity_adds_what_is_missing_and_refuses_to_overwrite(
    theirs: dict[str, str], kept: dict[str, str] | None, message: str | None
) -> None:
    sticky = target(STICKY).spec.sticky
    if message is not None:
        with pytest.raises(RouterError, match=re.escape(message)):
            stable_with_affinity(stable_with(theirs), "web", sticky)
        return
    out = stable_with_affinity(stable_with(theirs), "web", sticky)
    ann = out["metadata"]["annotations"]
    assert ann[P + "affinity"] == "cookie" and ann[P + "session-cookie-max-age"] == "7200"
    ours = json.loads(ann[MANAGED_BY])["web"]["annotations"]
    assert not set(ours) & set(theirs)  # the user's own are not recorded as canarist's
    back = stable_with_affinity(out, "web", None)
    assert back["metadata"]["annotations"] == stable_with(kept or theirs)["metadata"]["annotations"]
