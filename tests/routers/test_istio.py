"""istio: VirtualService weights (host- and subset-level; http, tls, tcp) and DestinationRules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import client_with, obj, target
from tests.routers.validation import assert_valid
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import build_routers
from webhook.routers.istio import rebuild, released, with_hashes
from webhook.routers.istio_vs import Split, select, short_host_matches, weigh
from webhook.routers.objects import Records
from webhook.spec import DestinationRuleRef, VirtualServiceRef
from webhook.spec.names import HASH_LABEL, MANAGED_BY

HOST = Split("shop", "web", "web-canary")
SUBSET = Split(
    "shop", "web", "web-canary", DestinationRuleRef("web-dr"), "web.shop.svc.cluster.local"
)
VS = obj(
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: web}
    spec:
      hosts: [shop.example.com]
      gateways: [shop-gw]
      http:
      - name: api
        match: [{uri: {prefix: /api}}]
        route: [{destination: {host: api}}]
      - name: primary
        route: [{destination: {host: web.shop.svc.cluster.local, port: {number: 80}}}]
      tls:
      - match: [{port: 443, sniHosts: [shop.example.com]}]
        route: [{destination: {host: web, port: {number: 443}}}]
      tcp:
      - match: [{port: 3306}]
        route: [{destination: {host: db}}]
    """
)


def dests(route: dict[str, Any]) -> list[tuple[str, str | None, int | None]]:
    return [
        (d["destination"]["host"], d["destination"].get("subset"), d.get("weight"))
        for d in route["route"]
    ]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("web", True),
        ("web.shop", True),
        ("web.shop.svc.cluster.local", True),
        ("web.other.svc.cluster.local", False),
        ("web-canary", False),
        ("webx", False),
        ("web.example.com", False),
    ],
)
def test_short_host_matches(host: str, expected: bool) -> None:
    assert short_host_matches(host, "web", "shop") is expected


@pytest.mark.parametrize(
    ("before", "weight", "after", "added"),
    [
        # a lone stable destination: the canary is added beside it, same host form and port
        (
            [("web.shop.svc.cluster.local", None, None)],
            20,
            [
                ("web.shop.svc.cluster.local", None, 80),
                ("web-canary.shop.svc.cluster.local", None, 20),
            ],
            True,
        ),
        (
            [("web", None, 70), ("web-canary", None, 30)],
            0,
            [("web", None, 100), ("web-canary", None, 0)],
            False,
        ),
        (
            [("web-canary", None, 0), ("web", None, 100)],
            100,
            [("web-canary", None, 100), ("web", None, 0)],
            False,
        ),
        # another destination keeps its share (Argo #3125): the pair splits its 60
        (
            [("web", None, 60), ("legacy", None, 40)],
            50,
            [("web", None, 30), ("web-canary", None, 30), ("legacy", None, 40)],
            True,
        ),
        (
            [("web", None, 30), ("web-canary", None, 30), ("legacy", None, 40)],
            100,
            [("web", None, 0), ("web-canary", None, 60), ("legacy", None, 40)],
            False,
        ),
    ],
)
def test_weigh_host_level(before: list[Any], weight: int, after: list[Any], added: bool) -> None:
    route = {
        "route": [
            {
                "destination": {"host": h, **({"port": {"number": 80}} if "svc" in h else {})},
                **({"weight": w} if w is not None else {}),
            }
            for h, _, w in before
        ]
    }
    assert bool(weigh(route, HOST, weight)) is added
    assert dests(route) == after


def test_weigh_subset_level_keeps_unmanaged_subsets_argo_3125() -> None:
    route = {
        "route": [
            {"destination": {"host": "web", "subset": "stable"}, "weight": 90},
            {"destination": {"host": "web", "subset": "experiment"}, "weight": 10},
        ]
    }
    assert weigh(route, SUBSET, 50) == ["", "~weight=90"]
    assert dests(route) == [("web", "stable", 45), ("web", "canary", 45), ("web", "experiment", 10)]


@given(
    st.lists(st.integers(0, 100), min_size=0, max_size=4).filter(lambda ws: sum(ws) <= 100),
    st.integers(0, 100),
    st.booleans(),
    st.integers(0, 100),
)
def test_weights_stay_in_range_and_sum_to_100(
    others: list[int], weight: int, with_canary: bool, split_at: int
) -> None:
    pair = 100 - sum(others)
    canary_now = min(split_at, pair) if with_canary else 0
    route: dict[str, Any] = {
        "route": [{"destination": {"host": "web"}, "weight": pair - canary_now}]
    }
    if with_canary:
        route["route"].append({"destination": {"host": "web-canary"}, "weight": canary_now})
    route["route"] += [
        {"destination": {"host": f"other-{i}"}, "weight": w} for i, w in enumerate(others)
    ]
    weigh(route, HOST, weight)
    weights = [d["weight"] for d in route["route"]]
    assert sum(weights) == 100
    assert all(0 <= w <= 100 for w in weights)
    assert [
        d["weight"] for d in route["route"] if d["destination"]["host"].startswith("other")
    ] == others
    canary = next(d["weight"] for d in route["route"] if d["destination"]["host"] == "web-canary")
    assert abs(canary - pair * weight / 100) <= 0.5


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ((), [("http", 1), ("tls", 0)]),  # every route with a stable destination
        (("primary",), [("http", 1)]),
        (("primary", "tls:443"), [("http", 1), ("tls", 0)]),
    ],
)
def test_select(routes: tuple[str, ...], expected: list[tuple[str, int]]) -> None:
    assert select(VS, VirtualServiceRef("web", routes), HOST, frozenset()) == expected


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (("nope",), r"no route 'nope' \(routes: api, primary, tcp:3306, tls:443; name http routes"),
        (("api",), r"route 'api' has no destination for the stable Service 'web' \(spec.http\[0\]"),
        (("tcp:3306",), r"route 'tcp\[0\]' has no destination for the stable Service 'web'"),
    ],
)
def test_select_errors_name_the_route_and_field(routes: tuple[str, ...], message: str) -> None:
    with pytest.raises(RouterError, match="VirtualService shop/web: " + message):
        select(VS, VirtualServiceRef("web", routes), HOST, frozenset())


def test_no_route_to_stable_is_an_error() -> None:
    vs = copy.deepcopy(VS)
    del vs["spec"]["http"][1], vs["spec"]["tls"]
    with pytest.raises(RouterError, match="no route sends traffic to the stable Service 'web'"):
        select(vs, VirtualServiceRef("web"), HOST, frozenset())


def test_rebuild_weights_every_split_route_and_records_added_destinations() -> None:
    out = rebuild(copy.deepcopy(VS), VirtualServiceRef("web"), HOST, "web", {}, 30)
    api, primary = out["spec"]["http"]
    assert api == VS["spec"]["http"][0]
    assert dests(primary)[1] == ("web-canary.shop.svc.cluster.local", None, 30)
    assert dests(out["spec"]["tls"][0]) == [("web", None, 70), ("web-canary", None, 30)]
    assert out["spec"]["tcp"] == VS["spec"]["tcp"]
    assert Records.of(out).get("web").added == (
        "primary",
        "primary~unweighted",  # the release takes away the weight canarist gave stable
        "tls[0]",
        "tls[0]~unweighted",
    )
    assert_valid(out)
    back = released(out, VirtualServiceRef("web"), HOST, "web")
    assert back["spec"] == VS["spec"]
    assert "annotations" not in back["metadata"]


def test_a_user_canary_destination_is_kept_on_release() -> None:
    vs = copy.deepcopy(VS)
    vs["spec"]["http"][1]["route"] = [
        {"destination": {"host": "web"}, "weight": 100},
        {"destination": {"host": "web-canary"}, "weight": 0},
    ]
    out = released(
        rebuild(vs, VirtualServiceRef("web", ("primary",)), HOST, "web", {}, 40),
        VirtualServiceRef("web", ("primary",)),
        HOST,
        "web",
    )
    assert dests(out["spec"]["http"][1]) == [("web", None, 100), ("web-canary", None, 0)]


DR = obj(
    """
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: web-dr}
    spec:
      host: web.shop.svc.cluster.local
      trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
      subsets:
      - {name: stable, labels: {app: web, track: main}}
      - {name: canary, labels: {app: web}}
      - {name: experiment, labels: {app: web-exp}}
    """
)


def labels(dr: dict[str, Any]) -> dict[str, Any]:
    return {s["name"]: s.get("labels") for s in dr["spec"]["subsets"]}


def test_update_hash_pins_subsets_and_keeps_the_users_labels() -> None:
    out = with_hashes(copy.deepcopy(DR), DestinationRuleRef("web-dr"), "c2", "s1", "web")
    assert labels(out) == {
        "stable": {"app": "web", "track": "main", HASH_LABEL: "s1"},
        "canary": {"app": "web", HASH_LABEL: "c2"},
        "experiment": {"app": "web-exp"},
    }
    assert out["spec"]["trafficPolicy"] == DR["spec"]["trafficPolicy"]
    assert out["metadata"]["annotations"][MANAGED_BY] == '{"web":{}}'
    assert_valid(out)


def test_abort_points_both_subsets_back_to_stable_argo_1838() -> None:
    during = with_hashes(copy.deepcopy(DR), DestinationRuleRef("web-dr"), "c2", "s1", "web")
    aborted = with_hashes(during, DestinationRuleRef("web-dr"), "s1", "s1", "web")
    assert labels(aborted)["canary"][HASH_LABEL] == "s1"
    assert labels(aborted)["stable"][HASH_LABEL] == "s1"


def test_an_empty_hash_removes_the_label_and_a_missing_subset_is_named() -> None:
    out = with_hashes(copy.deepcopy(DR), DestinationRuleRef("web-dr"), "", "s1", "web")
    assert labels(out)["canary"] == {"app": "web"}
    with pytest.raises(
        RouterError,
        match=r"DestinationRule shop/web-dr has no subset 'blue' \(spec.subsets\[\].name; "
        r"subsets: canary, experiment, stable\)",
    ):
        with_hashes(
            copy.deepcopy(DR), DestinationRuleRef("web-dr", "blue", "canary"), "c", "s", "web"
        )


SUBSET_VS = obj(
    """
    apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata: {name: web}
    spec:
      hosts: [web]
      http:
      - name: primary
        route:
        - {destination: {host: web.shop.svc.cluster.local, subset: stable}, weight: 90}
        - {destination: {host: web.shop.svc.cluster.local, subset: experiment}, weight: 10}
    """
)
SUBSET_ANN = {
    "canarist.io/traffic-router": "istio",
    "canarist.io/istio-virtual-service": "web:primary",
    "canarist.io/istio-destination-rule": "web-dr",
}


async def test_adapter_subset_level_release_and_abort() -> None:
    client = client_with(SUBSET_VS, DR)
    (router,) = build_routers(target(SUBSET_ANN), client)
    vs_ref, dr_ref = ObjectRef.of(SUBSET_VS), ObjectRef.of(DR)

    await router.update_hash("c2", "s1")
    await router.set_weight(20)
    await router.update_hash("c2", "s1")
    await router.set_weight(20)
    assert [ref.kind for _, ref in client.writes] == ["DestinationRule", "VirtualService"]
    vs = client.peek(vs_ref)
    assert vs is not None
    assert dests(vs["spec"]["http"][0]) == [
        ("web.shop.svc.cluster.local", "stable", 72),
        ("web.shop.svc.cluster.local", "canary", 18),
        ("web.shop.svc.cluster.local", "experiment", 10),
    ]
    assert_valid(vs)
    # abort: weight 0 at once and both subsets on the stable hash (Argo #1838)
    await router.set_weight(0)
    await router.update_hash("s1", "s1")
    dr = client.peek(dr_ref)
    assert dr is not None and labels(dr)["canary"][HASH_LABEL] == "s1"
    await router.cleanup()
    dr, vs = client.peek(dr_ref), client.peek(vs_ref)
    assert dr is not None and vs is not None
    assert dr["spec"] == DR["spec"]
    assert vs["spec"] == SUBSET_VS["spec"]


async def test_adapter_names_missing_objects() -> None:
    (router,) = build_routers(target(SUBSET_ANN), client_with(SUBSET_VS))
    with pytest.raises(
        RouterError,
        match=r"DestinationRule shop/web-dr not found "
        r"\(named by canarist.io/istio-destination-rule\)",
    ):
        await router.set_weight(10)
    (router,) = build_routers(target(SUBSET_ANN), client_with(DR))
    with pytest.raises(
        RouterError,
        match=r"VirtualService shop/web not found \(named by canarist.io/istio-virtual-service\)",
    ):
        await router.set_weight(10)
