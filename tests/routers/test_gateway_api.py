"""gateway-api: backendRefs weights, header rules with matches, mirror rules with RequestMirror."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import client_with, obj, target
from tests.routers.validation import assert_valid
from webhook.cluster.schema import prune_and_default
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers
from webhook.routers.gateway_api import (
    Backends,
    header_builder,
    mirror_builder,
    rebuild,
    released,
    weigh,
)
from webhook.routers.gateway_match import header_matches, mirror_into
from webhook.routers.gateway_rules import RouteFeatures, digest, route_features
from webhook.spec import HeaderMatch, MirrorMatch, SetHeaderRoute, SetMirrorRoute, StringMatch

B = Backends("shop", "web", "web-canary")
ROUTE = obj(
    """
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: web}
    spec:
      parentRefs: [{name: shop-gw}]
      hostnames: [shop.example.com]
      rules:
      - matches: [{path: {type: PathPrefix, value: /api}}]
        backendRefs: [{name: api, port: 8080}]
      - matches: [{path: {type: PathPrefix, value: /}}]
        filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {add: [{name: X-From, value: gw}]}
        backendRefs: [{name: web, port: 80}]
    """
)


def sm(kind: str, value: str) -> StringMatch:
    return StringMatch.of(kind, value)  # type: ignore[arg-type]


BETA = SetHeaderRoute("beta", (HeaderMatch("X-Canary", sm("exact", "1")),))
SHADOW = SetMirrorRoute("shadow", 25, (MirrorMatch(method=sm("exact", "GET")),))


def refs(rule: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(r["name"], r.get("weight")) for r in rule["backendRefs"]]


@pytest.mark.parametrize(
    ("before", "weight", "after"),
    [
        ([("web", None)], 10, [("web", 90), ("web-canary", 10)]),
        ([("web", 80), ("web-canary", 20)], 100, [("web", 0), ("web-canary", 100)]),
        # another backend keeps its share of the rule: weights are relative
        ([("web", 1), ("other", 1)], 30, [("web", 70), ("web-canary", 30), ("other", 100)]),
        ([("web", 300), ("other", 100)], 50, [("web", 150), ("web-canary", 150), ("other", 100)]),
    ],
)
def test_weigh(before: list[tuple[str, int | None]], weight: int, after: list[Any]) -> None:
    rule = {
        "backendRefs": [
            {"name": n, "port": 80, **({"weight": w} if w is not None else {})} for n, w in before
        ]
    }
    weigh(rule, B, weight)
    assert refs(rule) == after
    assert all(r["port"] == 80 for r in rule["backendRefs"])


@given(st.lists(st.integers(0, 1000), max_size=3), st.integers(1, 1000), st.integers(0, 100))
def test_other_backends_keep_their_share(others: list[int], stable: int, weight: int) -> None:
    rule: dict[str, Any] = {"backendRefs": [{"name": "web", "port": 80, "weight": stable}]}
    rule["backendRefs"] += [
        {"name": f"o{i}", "port": 80, "weight": w} for i, w in enumerate(others)
    ]
    total_before = stable + sum(others)
    weigh(rule, B, weight)
    ws = {r["name"]: r["weight"] for r in rule["backendRefs"]}
    total = sum(ws.values())
    assert all(0 <= w <= 1_000_000 for w in ws.values())
    for i, w in enumerate(others):
        assert ws[f"o{i}"] * total_before == w * total  # same share of the rule
    pair = ws["web"] + ws["web-canary"]
    assert abs(ws["web-canary"] - pair * weight / 100) <= 0.5


def test_weights_header_and_mirror_rules_together_validate() -> None:
    out = rebuild(copy.deepcopy(ROUTE), B, "web", {}, 20)
    out = rebuild(out, B, "web", {"beta": header_builder(B, BETA, "w")})
    out = rebuild(out, B, "web", {"shadow": mirror_builder(B, SHADOW, "w")})
    api, main, beta, shadow = out["spec"]["rules"]
    assert api == ROUTE["spec"]["rules"][0]
    assert refs(main) == [("web", 80), ("web-canary", 20)]
    assert main["filters"] == ROUTE["spec"]["rules"][1]["filters"]
    assert beta == {
        "name": "beta",
        "matches": [
            {
                "path": {"type": "PathPrefix", "value": "/"},
                "headers": [{"type": "Exact", "name": "X-Canary", "value": "1"}],
            }
        ],
        "filters": ROUTE["spec"]["rules"][1]["filters"],
        "backendRefs": [
            {"group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 1}
        ],
    }
    assert shadow["name"] == "shadow"
    assert shadow["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}, "method": "GET"}]
    assert shadow["filters"][-1] == {
        "type": "RequestMirror",
        "requestMirror": {
            "backendRef": {"group": "", "kind": "Service", "name": "web-canary", "port": 80},
            "percent": 25,
        },
    }
    assert shadow["backendRefs"] == main["backendRefs"]
    assert_valid(out)
    # a weight change moves the mirror rule's copy too, in the same write
    out = rebuild(out, B, "web", {}, 70)
    assert refs(out["spec"]["rules"][3]) == [("web", 30), ("web-canary", 70)]
    # removing both routes gives back the weighted route
    out = rebuild(out, B, "web", {"beta": None, "shadow": None})
    assert out["spec"]["rules"] == rebuild(copy.deepcopy(ROUTE), B, "web", {}, 70)["spec"]["rules"]


@pytest.mark.parametrize(
    ("source", "matches", "expected"),
    [
        (
            None,
            [HeaderMatch("X", sm("exact", "1"))],
            [{"headers": [{"type": "Exact", "name": "X", "value": "1"}]}],
        ),
        (
            [{"path": {"type": "Exact", "value": "/a"}}],
            [HeaderMatch("X", sm("prefix", "v1."))],
            [
                {
                    "path": {"type": "Exact", "value": "/a"},
                    "headers": [{"type": "RegularExpression", "name": "X", "value": r"v1\..*"}],
                }
            ],
        ),
        (
            [{"headers": [{"name": "x", "value": "a"}]}],
            [HeaderMatch("X", sm("regex", "a|b"))],
            [{"headers": [{"type": "Exact", "name": "X", "value": "a"}]}],
        ),
        ([{"headers": [{"name": "x", "value": "c"}]}], [HeaderMatch("X", sm("exact", "a"))], []),
    ],
)
def test_header_matches(source: Any, matches: list[HeaderMatch], expected: Any) -> None:
    assert header_matches(source, tuple(matches), "w") == expected


@pytest.mark.parametrize(
    ("element", "match", "expected"),
    [
        (
            {},
            MirrorMatch(path=sm("prefix", "/cart")),
            {"path": {"type": "PathPrefix", "value": "/cart"}},
        ),
        (
            {"path": {"type": "PathPrefix", "value": "/api"}},
            MirrorMatch(path=sm("prefix", "/cart")),
            None,
        ),
        (
            {"path": {"type": "PathPrefix", "value": "/api"}},
            MirrorMatch(path=sm("exact", "/api/x")),
            {"path": {"type": "Exact", "value": "/api/x"}},
        ),
        ({"method": "POST"}, MirrorMatch(method=sm("exact", "get")), None),
        ({}, MirrorMatch(method=sm("exact", "get")), {"method": "GET"}),
    ],
)
def test_mirror_into(element: dict[str, Any], match: MirrorMatch, expected: Any) -> None:
    assert mirror_into(element, match, "w") == expected


@pytest.mark.parametrize(
    ("match", "message"),
    [
        (MirrorMatch(method=sm("prefix", "G")), "matches one HTTP method exactly"),
        (MirrorMatch(method=sm("exact", "FETCH")), "matches one HTTP method exactly"),
        (MirrorMatch(path=sm("prefix", "cart")), "must start with '/'"),
    ],
)
def test_mirror_matches_gateway_api_cannot_express(match: MirrorMatch, message: str) -> None:
    with pytest.raises(RouterError, match=message):
        mirror_into({}, match, "w")


def test_empty_exact_header_value_is_refused() -> None:
    with pytest.raises(RouterError, match="cannot match header 'X' to an empty value"):
        header_matches(None, (HeaderMatch("X", sm("exact", "")),), "w")


def test_rule_limit_is_checked_before_writing() -> None:
    route = copy.deepcopy(ROUTE)
    route["spec"]["rules"] = [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": f"/p{i}"}}],
            "backendRefs": [{"name": "web", "port": 80}],
        }
        for i in range(9)
    ]
    with pytest.raises(RouterError, match="would make 18 rules; an HTTPRoute holds at most 16"):
        rebuild(route, B, "web", {"beta": header_builder(B, BETA, "w")})


def test_missing_stable_backend_and_name_clashes() -> None:
    route = copy.deepcopy(ROUTE)
    route["spec"]["rules"][1]["backendRefs"][0]["name"] = "other"
    with pytest.raises(
        RouterError,
        match=r"HTTPRoute shop/web has no rule sending to the stable Service 'web' "
        r"\(spec.rules\[\].backendRefs",
    ):
        rebuild(route, B, "web", {}, 10)
    route = copy.deepcopy(ROUTE)
    route["spec"]["rules"][0]["name"] = "beta"
    with pytest.raises(
        RouterError, match="a rule named 'beta' exists and canarist does not manage it"
    ):
        rebuild(route, B, "web", {"beta": header_builder(B, BETA, "w")})


def test_release_gives_back_the_users_route_exactly() -> None:
    out = rebuild(copy.deepcopy(ROUTE), B, "web", {}, 40)
    out = rebuild(out, B, "web", {"beta": header_builder(B, BETA, "w")})
    back = released(out, B, "web")
    assert back["spec"] == ROUTE["spec"]
    assert "annotations" not in back["metadata"]


async def test_adapter_release_through_the_offline_client() -> None:
    ann = {"canarist.io/traffic-router": "gateway-api", "canarist.io/http-route": "web"}
    client = client_with(ROUTE)
    (router,) = build_routers(target(ann), client)
    ref = ObjectRef.of(ROUTE)
    await router.set_header_route(BETA)
    await router.set_mirror_route(SHADOW)
    await router.set_weight(10)
    writes = len(client.writes)
    await router.set_header_route(BETA)
    await router.set_mirror_route(SHADOW)
    await router.set_weight(10)
    assert len(client.writes) == writes == 3
    current = client.peek(ref)
    assert current is not None
    assert [r.get("name") for r in current["spec"]["rules"]] == [None, None, "beta", "shadow"]
    assert_valid(current)
    await router.remove_managed_routes()
    await router.cleanup()
    current = client.peek(ref)
    assert current is not None and current["spec"] == ROUTE["spec"]


async def test_adapter_names_the_missing_route() -> None:
    ann = {"canarist.io/traffic-router": "gateway-api", "canarist.io/http-route": "web"}
    (router,) = build_routers(target(ann), client_with())
    with pytest.raises(
        RouterError, match=r"HTTPRoute shop/web not found \(named by canarist.io/http-route\)"
    ):
        await router.set_weight(10)


# --- CRDs before rule names (Gateway API < v1.4) and mirror percentages (< v1.3) ----------------

DATA = Path(__file__).resolve().parent.parent / "data"
CURRENT_CRD = DATA / "crds" / "gateway.networking.k8s.io_httproutes.yaml"
V1_1_CRD = DATA / "crds-old" / "gateway-api-v1.1.0.httproutes.yaml"


def httproute_schema(path: Path, version: str = "v1") -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    found = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return dict(found["schema"]["openAPIV3Schema"])


def v1_3_like() -> dict[str, Any]:
    """The current schema without rule names: what v1.3 has (percent, no name)."""
    schema = copy.deepcopy(httproute_schema(CURRENT_CRD))
    rules = schema["properties"]["spec"]["properties"]["rules"]
    del rules["items"]["properties"]["name"]
    return schema


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (None, RouteFeatures(True, True, known=False)),  # unknown: the newest assumed
        (httproute_schema(CURRENT_CRD), RouteFeatures(True, True, known=True)),
        (v1_3_like(), RouteFeatures(False, True, known=True)),
        (httproute_schema(V1_1_CRD), RouteFeatures(False, False, known=True)),
        ({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, RouteFeatures()),
    ],
    ids=["unknown", "current", "v1.3", "v1.1", "schemaless"],
)
def test_route_features_from_the_crd_schema(
    schema: dict[str, Any] | None, expected: RouteFeatures
) -> None:
    assert route_features(schema) == expected


def stored(route: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """What an API server with ``schema`` keeps of a write (the embedded cluster's pruning and
    defaulting code)."""
    out = copy.deepcopy(route)
    prune_and_default(out, schema)
    return out


OLD = httproute_schema(V1_1_CRD)
UNKNOWN = RouteFeatures()  # the schema could not be read: names are written, then pruned


@pytest.mark.parametrize("features", [route_features(OLD), UNKNOWN], ids=["known", "unknown"])
def test_rules_without_names_are_found_by_shape_and_never_pile_up(features: RouteFeatures) -> None:
    """Issue 8, defect 4, on the pure functions: every release's header and mirror rules are
    found again on a v1.1 CRD (names pruned) and removed at its end."""
    mirror = SetMirrorRoute("shadow", 100, (MirrorMatch(method=sm("exact", "GET")),))
    route = stored(ROUTE, OLD)
    user_rules = copy.deepcopy(route["spec"]["rules"])
    for _ in range(3):  # three releases
        route = stored(rebuild(route, B, "web", {"beta": header_builder(B, BETA, "w")}, 20,
                               features), OLD)
        route = stored(rebuild(route, B, "web", {"shadow": mirror_builder(B, mirror, "w",
                                                                          features)},
                               features=features), OLD)
        for weight in (50, 100):
            route = stored(rebuild(route, B, "web", {}, weight, features), OLD)
        assert len(route["spec"]["rules"]) == 4
        assert all("name" not in r for r in route["spec"]["rules"])
        route = stored(rebuild(route, B, "web", {"beta": None, "shadow": None}, 0, features), OLD)
        assert len(route["spec"]["rules"]) == 2
    route = stored(released(route, B, "web", features), OLD)
    assert route["spec"]["rules"] == user_rules
    assert "annotations" not in route["metadata"]


def test_a_route_read_back_without_its_names_stops_getting_names() -> None:
    """Without a schema the names are written once; once the server dropped them, they are not
    written again (no write, and no warning, on every reconcile)."""
    route = stored(rebuild(copy.deepcopy(ROUTE), B, "web", {"beta": header_builder(B, BETA, "w")},
                           10, UNKNOWN), OLD)
    again = rebuild(copy.deepcopy(route), B, "web", {}, 10, UNKNOWN)
    assert again["spec"] == route["spec"]


def test_a_users_rule_like_a_managed_one_but_not_recorded_is_left_alone() -> None:
    route = rebuild(copy.deepcopy(ROUTE), B, "web", {"beta": header_builder(B, BETA, "w")}, 10,
                    route_features(OLD))
    copied = copy.deepcopy(route["spec"]["rules"][-1])  # the user made the same rule by hand
    route["spec"]["rules"].insert(1, copied)
    route = rebuild(route, B, "web", {"beta": None}, 10, route_features(OLD))
    assert copied in route["spec"]["rules"]  # one of the two identical rules stays
    assert len(route["spec"]["rules"]) == 3


def test_mirror_percentages_need_a_crd_that_has_them() -> None:
    old = route_features(OLD)
    with pytest.raises(RouterError, match=r"no requestMirror.percent \(Gateway API before v1.3\)"
                                          r".* not 25%"):
        mirror_builder(B, SHADOW, "HTTPRoute shop/web route 'shadow'", old)
    every = SetMirrorRoute("shadow", 100, SHADOW.matches)
    rule = mirror_builder(B, every, "w", old)("shadow", stored(ROUTE, OLD)["spec"]["rules"][1])
    assert rule is not None
    mirror = next(f for f in rule["filters"] if f["type"] == "RequestMirror")["requestMirror"]
    assert mirror == {"backendRef": {"group": "", "kind": "Service", "name": "web-canary",
                                     "port": 80}}
    assert stored({"spec": {"rules": [rule]}}, OLD)["spec"]["rules"][0] == {
        k: v for k, v in rule.items() if k != "name"
    }  # nothing else of it is pruned


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ({"backendRefs": [{"name": "c"}]},
         {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
          "backendRefs": [{"group": "", "kind": "Service", "name": "c", "weight": 1}]}),
        ({"name": "beta", "matches": [{"headers": [{"name": "x", "value": "1"}]}],
          "backendRefs": [{"name": "c", "weight": 1}]},
         {"matches": [{"path": {"type": "PathPrefix", "value": "/"},
                       "headers": [{"type": "Exact", "name": "x", "value": "1"}]}],
          "backendRefs": [{"group": "", "kind": "Service", "name": "c", "weight": 1}]}),
        ({"filters": [{"type": "RequestMirror", "requestMirror": {
            "backendRef": {"name": "c"}, "percent": 30}}], "backendRefs": []},
         {"filters": [{"type": "RequestMirror", "requestMirror": {
             "backendRef": {"name": "c", "group": "", "kind": "Service"}}}], "backendRefs": []}),
    ],
    ids=["defaults", "name-and-header-type", "mirror-percent"],
)
def test_a_rule_keeps_its_digest_through_defaults_and_pruning(
    written: dict[str, Any], kept: dict[str, Any]
) -> None:
    assert digest(written) == digest(kept)
    assert digest(written) != digest({**kept, "backendRefs": [{"name": "d"}]})
