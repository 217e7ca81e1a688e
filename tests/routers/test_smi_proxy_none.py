"""smi (TrafficSplit v1alpha1–v1alpha4), proxy (route-table ConfigMap), none, and build_routers."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.routers.fixtures import UID, client_with, obj, target
from tests.routers.validation import assert_valid
from webhook.cluster.schema import prune_and_default, validate
from webhook.errors import RouterError
from webhook.kube.protocol import ObjectRef
from webhook.routers import ROUTER_CLASSES, build_routers
from webhook.routers.objects import Record
from webhook.routers.offline import OfflineClient
from webhook.routers.proxy import configmap_name, header_change, mirror_change, routes_of
from webhook.routers.smi import choose_version, desired_split
from webhook.spec import (
    CAPABILITIES,
    ROUTERS,
    HeaderMatch,
    MirrorMatch,
    SetHeaderRoute,
    SetMirrorRoute,
    StringMatch,
)
from webhook.spec.names import MANAGED_BY, ROUTE_TABLE_LABEL
from webhook.spec.routetable import ROUTE_TABLE_KEY, Backend, Route, parse_route_table

SMI = target({"canarist.io/traffic-router": "smi", "canarist.io/traffic-split": "web-split"})
SPLIT_REF = ObjectRef("split.smi-spec.io/v1alpha4", "TrafficSplit", "shop", "web-split")


def test_traffic_split_shape() -> None:
    out = desired_split(None, SMI, 5)
    assert out == {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {
            "name": "web-split",
            "namespace": "shop",
            "ownerReferences": [SMI.owner.reference()],
            "annotations": {MANAGED_BY: '{"web":{}}'},
        },
        "spec": {
            "service": "web",
            "backends": [{"service": "web-canary", "weight": 5}, {"service": "web", "weight": 95}],
        },
    }
    assert_valid(out)


@given(st.integers(0, 100))
def test_traffic_split_weights_sum_to_100(weight: int) -> None:
    backends = desired_split(None, SMI, weight)["spec"]["backends"]
    assert [b["weight"] for b in backends] == [weight, 100 - weight]


def test_a_traffic_split_canarist_does_not_own_is_refused() -> None:
    foreign = desired_split(None, SMI, 5)
    foreign["metadata"]["ownerReferences"] = []
    with pytest.raises(
        RouterError, match="TrafficSplit shop/web-split exists and is not owned by Deployment 'web'"
    ):
        desired_split(foreign, SMI, 10)


async def test_smi_adapter_creates_updates_and_cleans_up() -> None:
    client = client_with()
    (router,) = build_routers(SMI, client)
    await router.set_weight(0)
    await router.set_weight(30)
    await router.set_weight(30)
    assert [verb for verb, _ in client.writes] == ["create", "replace"]
    split = client.peek(SPLIT_REF)
    assert split is not None and split["spec"]["backends"][0]["weight"] == 30
    await router.remove_managed_routes()  # weight only: nothing to remove
    assert client.peek(SPLIT_REF) == split
    await router.cleanup()
    assert client.peek(SPLIT_REF) is None


CRDS = Path(__file__).resolve().parent.parent / "data"
PUBLISHED = CRDS / "crds" / "trafficsplit.crd.yaml"  # v1alpha4 served; v1alpha3, v1alpha2 kept
LINKERD = CRDS / "crds-old" / "linkerd-smi.trafficsplit.crd.yaml"  # v1alpha1, v1alpha2 served


def smi_schema(path: Path, version: str) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    found = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return dict(found["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize(
    ("served", "version"),
    [
        (None, "v1alpha4"),  # offline, nothing said: the published CRD's
        (("v1alpha4",), "v1alpha4"),
        (("v1alpha2", "v1alpha1"), "v1alpha2"),  # Linkerd's SMI extension
        (("v1alpha1",), "v1alpha1"),
        (("v1alpha3", "v1alpha2", "v1beta1"), "v1alpha3"),
    ],
)
def test_the_newest_served_version_is_written(served: tuple[str, ...] | None, version: str) -> None:
    assert choose_version(served) == version


@pytest.mark.parametrize(
    ("served", "message"),
    [
        ((), "the API server does not serve split.smi-spec.io: install the TrafficSplit "
             "CustomResourceDefinition"),
        (("v1beta1", "v2"), "the API server serves split.smi-spec.io in v1beta1, v2 only; "
                            "canarist writes TrafficSplit in v1alpha1, v1alpha2, v1alpha3, "
                            "v1alpha4"),
    ],
)
def test_no_supported_version_says_what_is_served(served: tuple[str, ...], message: str) -> None:
    with pytest.raises(RouterError, match=re.escape(message)):
        choose_version(served)


ROOTED = target({"canarist.io/traffic-router": "smi", "canarist.io/smi-root-service": "apex"})


@pytest.mark.parametrize(
    ("version", "crd", "weights"),
    [
        ("v1alpha1", LINKERD, ["20", "80"]),  # quantities ("1 = 1000m"), as strings
        ("v1alpha2", LINKERD, [20, 80]),  # "Weights must be whole numbers"
        ("v1alpha3", PUBLISHED, [20, 80]),
        ("v1alpha4", PUBLISHED, [20, 80]),
    ],
)
def test_each_version_has_its_own_shape(version: str, crd: Path, weights: list[Any]) -> None:
    current = desired_split(None, ROOTED, 0, "v1alpha4")
    current["spec"]["matches"] = [{"kind": "HTTPRouteGroup", "name": "ab"}]  # v1alpha3+ only
    out = desired_split(current, ROOTED, 20, version)
    assert out["apiVersion"] == f"split.smi-spec.io/{version}"
    assert out["spec"]["service"] == "apex"  # the root Service clients call
    assert [b["service"] for b in out["spec"]["backends"]] == ["web-canary", "web"]
    assert [b["weight"] for b in out["spec"]["backends"]] == weights
    assert ("matches" in out["spec"]) is (version in ("v1alpha3", "v1alpha4"))
    schema = smi_schema(crd, version)
    pruned = copy.deepcopy(out)
    assert prune_and_default(pruned, schema) == []  # nothing the CRD would drop
    assert validate(out, schema) == []


async def test_the_adapter_writes_what_the_cluster_serves() -> None:
    linkerd = yaml.safe_load(LINKERD.read_text())
    for client in (
        OfflineClient([linkerd]),
        OfflineClient(api_versions=["split.smi-spec.io/v1alpha2", "split.smi-spec.io/v1alpha1"]),
    ):
        (router,) = build_routers(ROOTED, client)
        await router.set_weight(10)
        (split,) = [o for o in client.changed() if o["kind"] == "TrafficSplit"]
        assert split["apiVersion"] == "split.smi-spec.io/v1alpha2"
        await router.cleanup()
        assert not [o for o in client.changed() if o["kind"] == "TrafficSplit"]


def test_default_traffic_split_name_is_the_deployments() -> None:
    out = desired_split(None, target({"canarist.io/traffic-router": "smi"}), 0)
    assert out["metadata"]["name"] == "web"


PROXY = target(
    {
        "canarist.io/traffic-router": "proxy",
        "canarist.io/proxy-hosts": "shop.example.com",
        "canarist.io/sticky": "true",
    }
)
CM_REF = ObjectRef("v1", "ConfigMap", "shop", "web-canarist-routes")
BETA = SetHeaderRoute("beta", (HeaderMatch("X-Beta", StringMatch.of("exact", "1")),))
SHADOW = SetMirrorRoute("shadow", 10, (MirrorMatch(method=StringMatch.of("exact", "GET")),))


async def test_proxy_writes_the_route_table_the_proxy_reads() -> None:
    client = client_with()
    (router,) = build_routers(PROXY, client)
    await router.update_hash("c2", "s1")
    await router.set_header_route(BETA)
    await router.set_mirror_route(SHADOW)
    await router.set_weight(25)
    cm = client.peek(CM_REF)
    assert cm is not None
    assert configmap_name(PROXY) == "web-canarist-routes"
    assert cm["metadata"]["labels"] == {ROUTE_TABLE_LABEL: "true"}
    assert cm["metadata"]["ownerReferences"][0]["uid"] == UID
    assert_valid(cm)
    table = parse_route_table(cm["data"][ROUTE_TABLE_KEY])  # the proxy's own parser
    (route,) = table.routes
    assert route.name == "web" and route.hosts == ("shop.example.com",)
    assert route.stable.service is not None and route.canary is not None
    assert (route.stable.service.service, route.stable.service.port) == ("web", 80)
    assert route.canary.service is not None and route.canary.service.service == "web-canary"
    assert route.weight == 25 and route.canary_hash == "c2" and route.stable_hash == "s1"
    assert [h.name for h in route.header_routes] == ["beta"]
    assert route.mirror is not None and route.mirror.percentage == 10
    assert route.sticky is not None and route.sticky.cookie == "canarist-web"
    writes = len(client.writes)
    await router.set_weight(25)
    await router.update_hash("c2", "s1")
    assert len(client.writes) == writes


async def test_proxy_removes_routes_and_keeps_the_table_after_a_release() -> None:
    client = client_with()
    (router,) = build_routers(PROXY, client)
    await router.set_header_route(BETA)
    await router.set_mirror_route(SHADOW)
    await router.set_weight(100)
    await router.set_weight(0)
    await router.remove_managed_routes()
    cm = client.peek(CM_REF)
    assert cm is not None
    (route,) = routes_of(cm)["routes"]
    assert route["weight"] == 0 and "headerRoutes" not in route and "mirror" not in route
    await router.cleanup()
    assert client.peek(CM_REF) is None


def test_proxy_route_changes_by_name() -> None:
    route = Route("web", Backend(endpoints=()))
    route, record = header_change(BETA)(route, Record())
    route, record = header_change(SetHeaderRoute("alpha", BETA.matches))(route, record)
    route, record = header_change(SetHeaderRoute("beta", BETA.matches[:1]))(route, record)
    assert [h.name for h in route.header_routes] == ["beta", "alpha"]
    route, record = mirror_change(SHADOW)(route, record)
    other = SetMirrorRoute("other", 50, SHADOW.matches)
    route, record = mirror_change(other)(route, record)  # one mirror per route: replaced
    assert route.mirror is not None and route.mirror.percentage == 50
    same, _ = mirror_change(SetMirrorRoute("shadow"))(route, record)
    assert same.mirror is not None  # "shadow" is no longer the mirror in force
    route, record = mirror_change(SetMirrorRoute("other"))(route, record)
    route, record = header_change(SetHeaderRoute("beta"))(route, record)
    assert route.mirror is None and [h.name for h in route.header_routes] == ["alpha"]
    assert record.route_names == ("alpha",)


async def test_proxy_needs_the_stable_service() -> None:
    (router,) = build_routers(PROXY, OfflineClient())
    with pytest.raises(
        RouterError,
        match=r"Service shop/web not found \(the stable Service, canarist.io/stable-service\)",
    ):
        await router.set_weight(0)


async def test_proxy_refuses_a_configmap_it_does_not_own() -> None:
    foreign = obj(
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: web-canarist-routes}, data: {a: b}}"
    )
    client = client_with(foreign)
    (router,) = build_routers(PROXY, client)
    with pytest.raises(
        RouterError, match="ConfigMap shop/web-canarist-routes exists and is not owned"
    ):
        await router.set_weight(10)
    await router.cleanup()
    assert client.peek(CM_REF) is not None


async def test_none_writes_nothing() -> None:
    client = client_with()
    (router,) = build_routers(target({}), client)
    assert router.name == "none" and router.capabilities == frozenset()
    await router.update_hash("c", "s")
    await router.set_weight(50)
    await router.set_header_route(BETA)
    await router.set_mirror_route(SHADOW)
    await router.remove_managed_routes()
    await router.cleanup()
    assert await router.verify_weight(50) is None
    assert client.writes == []


def test_every_router_has_a_class_with_the_shared_capabilities() -> None:
    assert set(ROUTER_CLASSES) == set(ROUTERS)
    for name, cls in ROUTER_CLASSES.items():
        assert cls.name == name
        assert cls.capabilities == CAPABILITIES[name]


def test_build_routers_keeps_the_annotation_order() -> None:
    t = target({"canarist.io/traffic-router": "smi,nginx", "canarist.io/nginx-ingress": "web"})
    assert [r.name for r in build_routers(t, client_with())] == ["smi", "nginx"]
    unknown = dataclasses.replace(t, spec=dataclasses.replace(t.spec, routers=("traefik",)))
    with pytest.raises(RouterError, match="unknown traffic router 'traefik'"):
        build_routers(unknown, client_with())
