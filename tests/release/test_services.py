"""The stable/canary Service decisions (pure): which releases touch Services at all, and the
shape of the canary Service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routers.fixtures import target
from webhook.release.model import ServiceView
from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION, ORIGINAL_SELECTOR
from webhook.release.ops import CreateService, PatchServiceSelector
from webhook.release.services import (
    Pin,
    canary_service_body,
    canary_service_type,
    has_canary_service,
    pins_services,
    subset_level_only,
)
from webhook.routers.base import Owner

from .sim import Sim, released

VS = {"canarist.io/istio-virtual-service": "web"}
DR = {"canarist.io/istio-destination-rule": "web-dr"}
NGINX = {"canarist.io/nginx-ingress": "web"}


@pytest.mark.parametrize(
    ("annotations", "subset_only", "pins", "canary_service"),
    [
        ({}, False, False, True),  # router none: the user's Service selects both revisions
        ({"canarist.io/traffic-router": "istio", **VS}, False, True, True),  # host-level
        ({"canarist.io/traffic-router": "istio", **VS, **DR}, True, False, False),
        ({"canarist.io/traffic-router": "istio,nginx", **VS, **DR, **NGINX}, False, True, True),
        ({"canarist.io/traffic-router": "nginx", **NGINX}, False, True, True),
    ],
    ids=["none", "istio-host", "istio-subset", "istio-subset+nginx", "nginx"],
)
def test_which_releases_touch_services(
    annotations: dict[str, str], subset_only: bool, pins: bool, canary_service: bool
) -> None:
    spec = target(annotations).spec
    assert subset_level_only(spec) is subset_only
    assert pins_services(spec) is pins
    assert has_canary_service(spec) is canary_service


def stable(spec: dict[str, Any]) -> ServiceView:
    return ServiceView.of(
        {
            "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, **spec},
        }
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (None, "ClusterIP"),
        ("ClusterIP", "ClusterIP"),
        ("NodePort", "NodePort"),
        ("LoadBalancer", "NodePort"),  # node ports for an ALB, no second cloud load balancer
    ],
)
def test_canary_service_type(kind: str | None, expected: str) -> None:
    assert canary_service_type(stable({"type": kind} if kind else {})) == expected


PORT = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "NodePort", "clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"],
             "externalTrafficPolicy": "Local", "ports": [{**PORT, "nodePort": 30080}]},
            {"type": "NodePort", "externalTrafficPolicy": "Local", "ports": [PORT]},
        ),
        (
            {"type": "LoadBalancer", "loadBalancerIP": "1.2.3.4", "healthCheckNodePort": 31000,
             "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
             "ports": [{**PORT, "nodePort": 30080}]},
            {"type": "NodePort", "externalTrafficPolicy": "Cluster", "ports": [PORT]},
        ),
        (
            {"type": "ClusterIP", "clusterIP": "10.0.0.7", "sessionAffinity": "None",
             "ports": [PORT]},
            {"type": "ClusterIP", "sessionAffinity": "None", "ports": [PORT]},
        ),
        (
            {"clusterIP": "None", "ports": [PORT]},
            {"type": "ClusterIP", "clusterIP": "None", "ports": [PORT]},
        ),
    ],
    ids=["nodeport", "loadbalancer", "clusterip", "headless"],
)
def test_canary_service_body(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    body = canary_service_body(
        stable(spec), "web-canary", "shop", Owner("web", "uid-1"), Pin(HASH_LABEL, "v2")
    )
    assert body["spec"] == {**expected, "selector": {"app": "web", HASH_LABEL: "v2"}}
    assert body["metadata"]["labels"] == {"team": "a"}
    assert body["metadata"]["annotations"] == {MANAGED_BY_ANNOTATION: "web"}
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


# --- on the release simulator: what a release does to the Services -----------------------------

SUBSET = {
    "canarist.io/steps": "[{setWeight: 20}, {pause: {}}]",
    "canarist.io/traffic-router": "istio",
    **VS,
    **DR,
}


def test_a_subset_level_release_leaves_the_service_alone_and_makes_no_canary_service() -> None:
    sim = Sim(SUBSET)
    released(sim)
    assert sim.status.weight == 20
    assert sim.services["web"]["spec"]["selector"] == {"app": "web"}
    assert MANAGED_BY_ANNOTATION not in (sim.services["web"]["metadata"].get("annotations") or {})
    assert "web-canary" not in sim.services
    assert (sim.router.canary_hash, sim.router.stable_hash) == (sim.hash(), sim.status.stable_hash)
    for p in sim.plans:
        assert not p.of_type(PatchServiceSelector)
        assert not p.of_type(CreateService)


def test_a_subset_level_release_gives_back_what_an_earlier_version_pinned() -> None:
    """An upgrade mid-release: the pin and the canary Service an earlier version made go."""
    sim = Sim(SUBSET)
    sim.run()
    v1 = sim.hash()
    svc = sim.services["web"]
    svc["spec"]["selector"][HASH_LABEL] = v1
    svc["metadata"]["annotations"] = {
        MANAGED_BY_ANNOTATION: "web", ORIGINAL_SELECTOR: '{"app": "web"}'
    }
    sim.services["web-canary"] = canary_service_body(
        ServiceView.of(svc), "web-canary", "shop", Owner("web", "uid-web"), Pin(HASH_LABEL, v1)
    )
    sim.update_template("v2")
    sim.run()
    assert sim.services["web"]["spec"]["selector"] == {"app": "web"}
    assert not sim.services["web"]["metadata"]["annotations"]
    assert "web-canary" not in sim.services
    assert sim.status.weight == 20


def test_a_clusterip_canary_service_of_an_earlier_version_takes_the_stable_type() -> None:
    sim = Sim({"canarist.io/steps": "[{setWeight: 20}, {pause: {}}]",
               "canarist.io/traffic-router": "proxy"})
    sim.run()
    stable = ServiceView.of(sim.services["web"])  # NodePort
    old = canary_service_body(stable, "web-canary", "shop", Owner("web", "uid-web"),
                              Pin(HASH_LABEL, sim.hash()))
    old["spec"]["type"] = "ClusterIP"
    sim.services["web-canary"] = old
    released(sim)
    assert sim.services["web-canary"]["spec"]["type"] == "NodePort"
    assert sim.services["web-canary"]["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]
