"""Router defects a migration from Argo Rollouts found, each run live on the embedded cluster
(reconcile loop, admission webhook, controllers, kubelet, CRDs from ``shared/schemas``): every
test is named after the defect it keeps fixed and failed on the code before the fix."""

from __future__ import annotations

import pytest

from tests.routers.user_objects import ALB, ISTIO
from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION
from webhook.spec import Phase

from .e2e import Harness, harness

pytestmark = pytest.mark.slow

WEIGHTS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {}\n"


async def endpoint_hashes(h: Harness, service: str) -> list[str]:
    """The revision hash of every ready endpoint the Service's EndpointSlices list."""
    slices = await h.client.list(
        "discovery.k8s.io/v1", "EndpointSlice", h.ns,
        label_selector=f"kubernetes.io/service-name={service}",
    )
    out = []
    for s in slices:
        for ep in s.get("endpoints") or []:
            if not (ep.get("conditions") or {}).get("ready"):
                continue
            pod = await h.client.get(ObjectRef("v1", "Pod", h.ns, ep["targetRef"]["name"]))
            assert pod is not None
            out.append(pod["metadata"]["labels"][HASH_LABEL])
    return sorted(out)


async def subset_labels(h: Harness) -> dict[str, JSON]:
    dr = await h.get("DestinationRule", "web-dr", "networking.istio.io/v1")
    assert dr is not None
    return {s["name"]: s.get("labels") for s in dr["spec"]["subsets"]}


async def test_istio_subset_level_canary_subset_has_endpoints(
    release_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 2. Subset-level: the one Service both DestinationRule subsets live on is
    left alone (Argo Rollouts: "this Service is not modified by the rollout controller"), so the
    canary subset has endpoints; no ``web-canary`` Service is made."""
    annotations = {
        "canarist.io/traffic-router": "istio",
        "canarist.io/steps": WEIGHTS,
        "canarist.io/scale-down-delay": "0",
        **ISTIO.options,
    }
    async with harness(release_cluster, annotations, objects=ISTIO.objects) as h:
        v1 = (await h.status()).stable_hash
        await h.set_version("v2")
        status = await h.wait("weight 20", lambda s, d: s.step == 1 and s.weight == 20)
        v2 = status.canary_hash
        svc = await h.get("Service", "web")
        assert svc is not None
        assert svc["spec"]["selector"] == {"app": "web"}
        assert MANAGED_BY_ANNOTATION not in (svc["metadata"].get("annotations") or {})
        assert await h.get("Service", "web-canary") is None
        assert await subset_labels(h) == {
            "stable": {"app": "web", HASH_LABEL: v1},
            "canary": {"app": "web", HASH_LABEL: v2},
        }
        hashes = await h.wait_for("canary endpoints", lambda: _with(h, v2))
        assert v1 in hashes and v2 in hashes  # both subsets select ready endpoints of `web`

        for _ in range(2):
            await h.annotate("promote")
            await h.wait("next pause or the end", lambda s, d: s.step >= 3 or s.stable_hash == v2)
        await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v2,
                     within=30)
        assert await h.selector("web") == {"app": "web"}
        assert await h.get("Service", "web-canary") is None
        assert await subset_labels(h) == {
            "stable": {"app": "web", HASH_LABEL: v2},
            "canary": {"app": "web", HASH_LABEL: v2},
        }


async def _with(h: Harness, revision: str) -> list[str] | None:
    hashes = await endpoint_hashes(h, "web")
    return hashes if revision in hashes else None


async def test_alb_canary_service_keeps_the_stable_services_nodeport_type(
    release_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 7. The AWS Load Balancer Controller's instance mode sends to node ports:
    the canary Service of a NodePort stable Service is a NodePort one too, with node ports of
    its own (the API server allocates them; the stable's are not copied)."""
    annotations = {
        "canarist.io/traffic-router": "alb",
        "canarist.io/steps": WEIGHTS,
        **ALB.options,
    }
    async with harness(
        release_cluster, annotations, objects=ALB.objects, service_type="NodePort"
    ) as h:
        stable = await h.get("Service", "web")
        assert stable is not None
        stable_ports = {p["nodePort"] for p in stable["spec"]["ports"]}
        await h.set_version("v2")
        await h.wait("weight 20", lambda s, d: s.step == 1 and s.weight == 20)
        canary = await h.get("Service", "web-canary")
        assert canary is not None
        assert canary["spec"]["type"] == "NodePort"
        ports = canary["spec"]["ports"]
        assert [(p["port"], p["targetPort"]) for p in ports] == [(80, 8080)]
        assert all(30000 <= p["nodePort"] <= 32767 for p in ports)
        assert {p["nodePort"] for p in stable["spec"]["ports"]} == stable_ports
