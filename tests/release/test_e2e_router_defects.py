"""Router defects a migration from Argo Rollouts found, each run live on the embedded cluster
(reconcile loop, admission webhook, controllers, kubelet, the CRDs of ``tests/data/crds``): every
test is named after the defect it keeps fixed and failed on the code before the fix. Those that
need older CRDs are in ``test_e2e_old_crds.py``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from tests.routers.ingress_nginx_rules import check
from tests.routers.user_objects import ALB, ISTIO, NGINX, PROXY, UserSetup
from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION
from webhook.spec import Phase
from webhook.spec.routetable import ROUTE_TABLE_KEY, parse_route_table

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


ING = "networking.k8s.io/v1"
P = "nginx.ingress.kubernetes.io/"


async def canary_ingress(h: Harness) -> JSON | None:
    return await h.get("Ingress", "web-web-canary", ING)


async def test_nginx_header_only_testing_works_at_weight_0(
    release_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 5. A static ``canary-by-header`` (Argo users' way) routes while the weight
    is 0: the canary Ingress exists at ``canary-weight: "0"`` during the release (Argo Rollouts
    keeps it so), and is removed when the release ends (#4751 stays fixed)."""
    steps = (
        "- setCanaryScale: {replicas: 1}\n- pause: {}\n"
        "- setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: 'on'}}]}"
        "\n- pause: {}\n- setWeight: 20\n- pause: {}\n"
    )
    annotations = {
        "canarist.io/traffic-router": "nginx",
        "canarist.io/steps": steps,
        "canarist.io/scale-down-delay": "0",
        "canarist.io/nginx-annotations": json.dumps({"canary-by-header": "X-Canary"}),
        **NGINX.options,
    }
    async with harness(release_cluster, annotations, objects=NGINX.objects) as h:
        await h.set_version("v2")
        await h.wait("first pause", lambda s, d: s.step == 1 and s.phase == Phase.PAUSED)
        ing = await canary_ingress(h)
        assert ing is not None, "no canary Ingress at weight 0: the static header routes nothing"
        ann = ing["metadata"]["annotations"]
        assert (ann[P + "canary-weight"], ann[P + "canary-by-header"]) == ("0", "X-Canary")

        await h.annotate("promote")
        await h.wait("header route", lambda s, d: s.step == 3 and s.header_routes == ("beta",))
        ann = ((await canary_ingress(h)) or {})["metadata"]["annotations"]
        assert (ann[P + "canary-weight"], ann[P + "canary-by-header"]) == ("0", "X-Beta")
        assert ann[P + "canary-by-header-value"] == "on"

        await h.annotate("promote")
        await h.wait("weight 20", lambda s, d: s.step == 5 and s.weight == 20)
        await h.annotate("promote")
        await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY and s.weight == 0,
                     within=30)
        await h.wait_for("canary Ingress deleted", lambda: _no_canary_ingress(h))


async def _no_canary_ingress(h: Harness) -> bool:
    return await canary_ingress(h) is None


async def nginx_sticky(h: Harness, max_age: int) -> None:
    stable, canary = await h.get("Ingress", "web", ING), await canary_ingress(h)
    assert stable is not None and canary is not None
    check(stable, canary, cookie="canarist-web", max_age=max_age)


async def alb_sticky(h: Harness, max_age: int) -> None:
    ing = await h.get("Ingress", "web", ING)
    assert ing is not None
    action = json.loads(ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.web"])
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {
        "Enabled": True, "DurationSeconds": max_age
    }


async def proxy_sticky(h: Harness, max_age: int) -> None:
    cm = await h.get("ConfigMap", "web-canarist-routes")
    assert cm is not None
    (route,) = parse_route_table(cm["data"][ROUTE_TABLE_KEY]).routes
    assert route.sticky is not None
    assert (route.sticky.cookie, route.sticky.max_age) == ("canarist-web", max_age)


StickyCheck = Callable[[Harness, int], Awaitable[None]]
STICKY_CASES: list[tuple[str, str, UserSetup, str, int, StickyCheck]] = [
    ("nginx", "nginx", NGINX, "true; max-age=2h", 7200, nginx_sticky),
    ("nginx-default", "nginx", NGINX, "true", 3600, nginx_sticky),
    ("alb", "alb", ALB, "true; max-age=2h", 7200, alb_sticky),
    ("proxy", "proxy", PROXY, "true; max-age=2h", 7200, proxy_sticky),
]


@pytest.mark.parametrize(
    ("router", "user", "sticky", "max_age", "check_sticky"),
    [c[1:] for c in STICKY_CASES],
    ids=[c[0] for c in STICKY_CASES],
)
async def test_sticky_cookie_max_age_is_configurable_and_nginx_uses_cookie_affinity(
    release_cluster: RunningCluster,
    router: str,
    user: UserSetup,
    sticky: str,
    max_age: int,
    check_sticky: StickyCheck,
) -> None:
    """Issue 8, defect 10. ``canarist.io/sticky: "true; max-age=2h"`` gives the cookie a max age
    of 7200 s (default 3600) with every router that keeps clients on a version; for ingress-nginx
    that is cookie session affinity on both Ingresses (``canary-by-cookie`` only obeys
    ``always``/``never``), checked against ingress-nginx's documented rules; the stable Ingress
    is given back as the user wrote it when the release ends."""
    annotations = {
        "canarist.io/traffic-router": router,
        "canarist.io/steps": WEIGHTS,
        "canarist.io/scale-down-delay": "0",
        "canarist.io/sticky": sticky,
        **user.options,
    }
    async with harness(release_cluster, annotations, objects=user.objects) as h:
        before = await h.get("Ingress", "web", ING)
        await h.set_version("v2")
        await h.wait("weight 20", lambda s, d: s.step == 1 and s.weight == 20)
        await check_sticky(h, max_age)
        for _ in range(2):
            await h.annotate("promote")
            await h.wait("next pause or the end", lambda s, d: s.step >= 3 or s.weight == 0)
        await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY, within=30)
        if router == "nginx":
            await h.wait_for("canary Ingress deleted", lambda: _no_canary_ingress(h))
            after = await h.get("Ingress", "web", ING)
            assert before is not None and after is not None
            assert after["metadata"].get("annotations") == before["metadata"].get("annotations")


async def test_api_server_warnings_on_canarists_writes_become_warning_events(
    release_cluster: RunningCluster,
) -> None:
    """Issue 8, defect 4: a warning the API server returns on a write of the reconciler (here
    the admission webhook's, when the promotion unpauses the Deployment) is a Warning Event on
    the Deployment, where ``kubectl describe`` shows it."""
    annotations = {
        "canarist.io/traffic-router": "proxy",
        "canarist.io/steps": "- setWeight: 50\n",
        "canarist.io/traffic-split": "web-split",  # an option of a router not selected
        "canarist.io/scale-down-delay": "0",
    }
    async with harness(release_cluster, annotations) as h:
        await h.set_version("v2")
        events = await h.wait_for("an APIWarning Event", lambda: h.warning_events("APIWarning"))
        (event,) = events
        assert event["involvedObject"]["name"] == "web"
        assert "PATCH /apis/apps/v1/namespaces/" in event["message"]
        assert 'canarist.io/traffic-split is ignored: traffic router "smi" is not selected' in (
            event["message"]
        )
