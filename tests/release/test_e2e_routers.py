"""Every traffic router through a whole release driven by the reconcile loop on the embedded
cluster (CRDs from ``shared/schemas`` installed, so every write is validated): the routing object
at every step, then promotion and the return to weight 0 on the new pods."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from tests.routers.user_objects import (
    ALB,
    GATEWAY_API,
    ISTIO,
    ISTIO_HOST,
    NGINX,
    SMI,
    UserSetup,
)
from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import JSON
from webhook.release.names import HASH_LABEL
from webhook.spec import Phase

from .e2e import Harness, harness

pytestmark = pytest.mark.slow

WEIGHTS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {}\n"
HEADERS = (
    "- setWeight: 20\n"
    "- setHeaderRoute: {name: beta, match: [{headerName: X-Canary, headerValue: {exact: 'yes'}}]}\n"
    "- pause: {}\n- setWeight: 50\n- pause: {}\n"
)


async def one(h: Harness, api_version: str, kind: str, name: str) -> JSON:
    obj = await h.get(kind, name, api_version)
    assert obj is not None, f"{kind} {name} missing"
    return obj


async def istio(h: Harness) -> int:
    vs = await one(h, "networking.istio.io/v1", "VirtualService", "web")
    route = next(r for r in vs["spec"]["http"] if r.get("name") == "primary")["route"]
    return next(
        (d.get("weight", 0) for d in route if d["destination"].get("subset") == "canary"), 0
    )


async def istio_host(h: Harness) -> int:
    vs = await one(h, "networking.istio.io/v1", "VirtualService", "web")
    route = next(r for r in vs["spec"]["http"] if r.get("name") == "primary")["route"]
    return next(
        (d.get("weight", 0) for d in route if d["destination"]["host"] == "web-canary"), 0
    )


async def nginx(h: Harness) -> int:
    canary = await h.get("Ingress", "web-web-canary", "networking.k8s.io/v1")
    if canary is None:
        return 0
    return int(canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"])


async def alb(h: Harness) -> int:
    ing = await one(h, "networking.k8s.io/v1", "Ingress", "web")
    action = (ing["metadata"].get("annotations") or {}).get("alb.ingress.kubernetes.io/actions.web")
    if action is None:
        return 0
    return int(json.loads(action)["ForwardConfig"]["TargetGroups"][0]["Weight"])


async def gateway(h: Harness) -> int:
    route = await one(h, "gateway.networking.k8s.io/v1", "HTTPRoute", "web")
    split = [r for r in route["spec"]["rules"] if any(b["name"] == "web" for b in r["backendRefs"])]
    assert len(split) == 1, route["spec"]["rules"]  # header routes are rules of their own
    refs = split[0]["backendRefs"]
    return next((r.get("weight", 0) for r in refs if r["name"] == "web-canary"), 0)


async def smi(h: Harness) -> int:
    split = await h.get("TrafficSplit", "web", "split.smi-spec.io/v1alpha4")
    if split is None:
        return 0
    return int(next(b["weight"] for b in split["spec"]["backends"] if b["service"] == "web-canary"))


@dataclass(frozen=True)
class Case:
    router: str
    user: UserSetup
    steps: str
    weight: Callable[[Harness], Awaitable[int]]


CASES = [
    Case("istio", ISTIO, HEADERS, istio),
    Case("istio-host", ISTIO_HOST, HEADERS, istio_host),
    Case("nginx", NGINX, HEADERS, nginx),
    Case("alb", ALB, HEADERS, alb),
    Case("gateway-api", GATEWAY_API, HEADERS, gateway),
    Case("smi", SMI, WEIGHTS, smi),
]


@pytest.mark.parametrize("case", CASES, ids=[c.router for c in CASES])
async def test_router_release(release_cluster: RunningCluster, case: Case) -> None:
    annotations = {
        "canarist.io/traffic-router": case.router.split("-host")[0],
        "canarist.io/steps": case.steps,
        "canarist.io/scale-down-delay": "0",
        **case.user.options,
    }
    async with harness(release_cluster, annotations, objects=case.user.objects) as h:
        v1 = (await h.status()).stable_hash
        await h.set_version("v2")
        first_pause = 2 if "setHeaderRoute" in case.steps else 1
        status = await h.wait("weight 20", lambda s, d: s.step == first_pause and s.weight == 20)
        v2 = status.canary_hash
        assert await case.weight(h) == 20
        if "setHeaderRoute" in case.steps:
            assert status.header_routes == ("beta",)
        if case.router == "istio":  # subset-level: the one Service stays as it is (defect 2)
            assert await h.selector("web") == {"app": "web"}
        else:
            assert await h.selector("web") == {"app": "web", HASH_LABEL: v1}
        if case.router == "istio":
            dr = await one(h, "networking.istio.io/v1", "DestinationRule", "web-dr")
            labels = {s["name"]: s["labels"] for s in dr["spec"]["subsets"]}
            assert labels == {
                "stable": {"app": "web", HASH_LABEL: v1},
                "canary": {"app": "web", HASH_LABEL: v2},
            }

        await h.annotate("promote")
        status = await h.wait("weight 50", lambda s, d: s.weight == 50 and s.phase == Phase.PAUSED)
        assert await case.weight(h) == 50
        assert (await h.canary() or {})["spec"]["replicas"] == 2

        await h.annotate("promote")
        status = await h.wait(
            "promoted", lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v2, within=30
        )
        assert status.header_routes == ()
        assert await case.weight(h) == 0
        if case.router == "istio":
            assert await h.selector("web") == {"app": "web"}
        else:
            assert await h.selector("web") == {"app": "web", HASH_LABEL: v2}
        await h.wait_for("canary deleted", lambda: _gone(h))


async def _gone(h: Harness) -> bool:
    return await h.canary() is None


async def test_router_none_splits_by_replicas(release_cluster: RunningCluster) -> None:
    annotations = {"canarist.io/steps": WEIGHTS, "canarist.io/scale-down-delay": "0"}
    async with harness(release_cluster, annotations) as h:
        await h.set_version("v2")
        status = await h.wait("20%", lambda s, d: s.step == 1 and s.weight == 20)
        assert (await h.canary() or {})["spec"]["replicas"] == 1  # 1 of 5 pods
        assert (await h.deployment())["spec"]["replicas"] == 4
        assert await h.selector("web") == {"app": "web"}  # never pinned
        await h.annotate("promote")
        status = await h.wait("50%", lambda s, d: s.step == 3 and s.weight == 50)
        assert (await h.canary() or {})["spec"]["replicas"] == 2  # 2 of 4 pods
        assert (await h.deployment())["spec"]["replicas"] == 2
        await h.annotate("promote")
        status = await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=30)
        assert status.stable_hash == status.canary_hash
        await h.wait_for("canary deleted", lambda: _gone(h))
