"""Router defects a migration from Argo Rollouts found that need the CRDs of older releases
(Linkerd's SMI extension, Gateway API v1.1; ``tests/data/crds-old``), each run live on an
embedded cluster of its own: every test is named after the defect it keeps fixed and failed on
the code before the fix."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator

import pytest
import yaml

from tests.routers.user_objects import GATEWAY_API
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.kube.protocol import JSON
from webhook.spec import Phase

from .e2e import OLD_CRDS, Harness, harness, install_crds

pytestmark = pytest.mark.slow

WEIGHTS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {}\n"


LINKERD_SMI = OLD_CRDS / "linkerd-smi.trafficsplit.crd.yaml"
GATEWAY_V1_1 = OLD_CRDS / "gateway-api-v1.1.0.httproutes.yaml"


@pytest.fixture(scope="module")
def old_crds_cluster() -> Iterator[RunningCluster]:
    """A cluster as many run: Linkerd's TrafficSplit CRD (v1alpha1 and v1alpha2 only) and
    Gateway API v1.1's HTTPRoute CRD (no rule names, no mirror percentage)."""
    cluster = start_in_thread(without=frozenset({"reconciler"}))
    try:
        asyncio.run(install_crds(cluster, [LINKERD_SMI, GATEWAY_V1_1]))
        yield cluster
    finally:
        cluster.stop()


SMI_ROOT = """
apiVersion: v1
kind: Service
metadata: {name: web-root}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
"""


async def traffic_split(h: Harness, version: str) -> JSON | None:
    return await h.get("TrafficSplit", "web", f"split.smi-spec.io/{version}")


async def test_smi_writes_the_newest_version_linkerd_serves_with_its_root_service(
    old_crds_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 3. canarist wrote only v1alpha4, which Linkerd's SMI extension does not
    serve: the release hung. It now writes the newest version the CRD serves (v1alpha2 here,
    whole-number weights) with ``spec.service`` from ``canarist.io/smi-root-service``."""
    annotations = {
        "canarist.io/traffic-router": "smi",
        "canarist.io/steps": WEIGHTS,
        "canarist.io/scale-down-delay": "0",
        "canarist.io/smi-root-service": "web-root",
    }
    async with harness(old_crds_cluster, annotations, objects=SMI_ROOT) as h:
        await h.set_version("v2")
        await h.wait("weight 20", lambda s, d: s.step == 1 and s.weight == 20)
        split = await traffic_split(h, "v1alpha2")
        assert split is not None
        assert split["apiVersion"] == "split.smi-spec.io/v1alpha2"
        assert split["spec"] == {
            "service": "web-root",
            "backends": [{"service": "web-canary", "weight": 20},
                         {"service": "web", "weight": 80}],
        }
        for _ in range(2):
            await h.annotate("promote")
            await h.wait("next pause or the end", lambda s, d: s.step >= 3 or s.weight == 0)
        await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=30)
        split = await traffic_split(h, "v1alpha2")
        assert split is not None
        assert [b["weight"] for b in split["spec"]["backends"]] == [0, 100]


@pytest.fixture
def future_smi_cluster() -> Iterator[RunningCluster]:
    """A cluster whose TrafficSplit CRD serves only a version canarist does not know (synthetic:
    Linkerd's CRD with its v1alpha2 schema renamed ``v1beta1``)."""
    crd = yaml.safe_load(LINKERD_SMI.read_text())
    version = copy.deepcopy(crd["spec"]["versions"][1])
    crd["spec"]["versions"] = [dict(version, name="v1beta1", served=True, storage=True)]
    cluster = start_in_thread(without=frozenset({"reconciler"}))
    try:
        asyncio.run(install_crds(cluster, [crd]))
        yield cluster
    finally:
        cluster.stop()


async def test_smi_names_the_versions_a_crd_serves_when_none_is_supported(
    future_smi_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 3: a TrafficSplit CRD that exists but serves no version canarist writes
    (a synthetic ``v1beta1``-only one) is reported with the versions it serves, in a Warning
    Event on the Deployment — not as a missing CRD."""
    annotations = {"canarist.io/traffic-router": "smi", "canarist.io/steps": WEIGHTS}
    async with harness(future_smi_cluster, annotations) as h:
        await h.set_version("v2")
        events = await h.wait_for("a Warning Event", lambda: h.warning_events("ReconcileFailed"))
        messages = [e["message"] for e in events]
        assert any(
            "the API server serves split.smi-spec.io in v1beta1 only; canarist writes "
            "TrafficSplit in v1alpha1, v1alpha2, v1alpha3, v1alpha4" in m for m in messages
        ), messages


GATEWAY_STEPS = (
    "- setWeight: 20\n"
    "- setHeaderRoute: {name: beta, match: [{headerName: X-Canary, headerValue: {exact: 'yes'}}]}\n"
    "- setMirrorRoute: {name: shadow, match: [{method: {exact: GET}}]}\n"
    "- pause: {}\n- setWeight: 50\n- pause: {}\n"
)


async def http_route(h: Harness) -> JSON:
    route = await h.get("HTTPRoute", "web", "gateway.networking.k8s.io/v1")
    assert route is not None
    return route


async def test_gateway_api_rules_do_not_pile_up_on_a_crd_without_rule_names(
    old_crds_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 4. Gateway API v1.1's HTTPRoute has no ``rules[].name``: the API server
    dropped the name canarist relied on, the header and mirror rules stayed after each release
    and piled up. Rules are now found by their shape; release after release only the user's rule
    is left (with the canary backend at weight 0, as after any release), and nothing the CRD
    lacks is written (no unknown-field warning)."""
    annotations = {
        "canarist.io/traffic-router": "gateway-api",
        "canarist.io/steps": GATEWAY_STEPS,
        "canarist.io/scale-down-delay": "0",
        **GATEWAY_API.options,
    }
    async with harness(old_crds_cluster, annotations, objects=GATEWAY_API.objects) as h:
        ends = []
        for version in ("v2", "v3"):
            await h.set_version(version)
            await h.wait("routes in force", lambda s, d: s.step == 3 and s.mirror == "shadow"
                         and s.header_routes == ("beta",))
            rules = (await http_route(h))["spec"]["rules"]
            assert len(rules) == 3 and not any("name" in r for r in rules), rules
            await h.annotate("promote")
            await h.wait("weight 50", lambda s, d: s.step == 5 and s.weight == 50)
            assert len((await http_route(h))["spec"]["rules"]) == 3
            await h.annotate("promote")
            await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY and s.weight == 0
                         and s.stable_hash == s.canary_hash, within=30)
            (rule,) = (await http_route(h))["spec"]["rules"]  # the user's, and only it
            assert [(r["name"], r["weight"]) for r in rule["backendRefs"]] == [
                ("web", 100), ("web-canary", 0)
            ]
            ends.append(await http_route(h))
        assert ends[0]["spec"] == ends[1]["spec"]
        assert not await h.warning_events("APIWarning")
