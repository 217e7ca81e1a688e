"""Every router through a whole release against the embedded cluster's API.

The API server validates each write (custom resources against the upstream CRDs, Ingresses and
ConfigMaps by their kinds), checks resourceVersions, and its garbage collector removes what
canarist created when the Deployment goes — so ownerReferences must be right.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.routers.cluster_client import ClusterClient
from tests.routers.user_objects import ALB, GATEWAY_API, ISTIO, NGINX, PROXY, SMI, UserSetup
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.kube.protocol import JSON, ObjectRef
from webhook.routers import build_routers, route_state_at
from webhook.routers.base import Owner, ReleaseTarget
from webhook.routers.state import apply_state
from webhook.spec import parse_canary_spec
from webhook.spec.routetable import ROUTE_TABLE_KEY, parse_route_table

pytestmark = pytest.mark.slow
CRDS = Path(__file__).resolve().parent.parent / "data" / "crds"
_ns = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    # Only the API and its garbage collector: the routers under test are the only writers (the
    # embedded reconciler would race them for the objects of the opted-in Deployment).
    running = start_in_thread(
        without=frozenset({"controllers", "kubelet", "webhook", "reconciler"})
    )
    try:
        client = ClusterClient(running)
        for path in sorted(CRDS.glob("*.yaml")):
            running.call(client.create(yaml.safe_load(path.read_text())))
        yield running
    finally:
        running.stop()


STEPS_FULL = """
- setWeight: 10
- setHeaderRoute: {name: beta, match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]}
- setMirrorRoute: {name: shadow, percentage: 30, match: [{method: {exact: GET}}]}
- setWeight: 50
- setMirrorRoute: {name: shadow}
- setWeight: 100
"""
STEPS_HEADER = """
- setWeight: 10
- setHeaderRoute: {name: beta, match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]}
- setWeight: 50
- setWeight: 100
"""
STEPS_WEIGHT = "[{setWeight: 10}, {setWeight: 50}, {setWeight: 100}]"


def find(objs: list[JSON], kind: str) -> JSON:
    return next(o for o in objs if o["kind"] == kind)


def istio_weight(objs: list[JSON]) -> int:
    route = find(objs, "VirtualService")["spec"]["http"][-1]["route"]
    return next((d["weight"] for d in route if d["destination"].get("subset") == "canary"), 0)


def nginx_weight(objs: list[JSON]) -> int:
    canary = [
        o for o in objs if o["kind"] == "Ingress" and o["metadata"]["name"].endswith("-canary")
    ]
    if not canary:
        return 0
    return int(canary[0]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"])


def alb_weight(objs: list[JSON]) -> int:
    ann = find(objs, "Ingress")["metadata"].get("annotations") or {}
    action = json.loads(ann["alb.ingress.kubernetes.io/actions.web"])
    return int(action["ForwardConfig"]["TargetGroups"][0]["Weight"])


def gateway_weight(objs: list[JSON]) -> int:
    refs = find(objs, "HTTPRoute")["spec"]["rules"][0]["backendRefs"]
    return next((r["weight"] for r in refs if r["name"] == "web-canary"), 0)


def smi_weight(objs: list[JSON]) -> int:
    splits = [o for o in objs if o["kind"] == "TrafficSplit"]
    return int(splits[0]["spec"]["backends"][0]["weight"]) if splits else 0


def proxy_weight(objs: list[JSON]) -> int:
    cms = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-routes")
    ]
    return parse_route_table(cms[0]["data"][ROUTE_TABLE_KEY]).routes[0].weight if cms else 0


@dataclass(frozen=True)
class Case:
    router: str
    user: UserSetup
    steps: str
    weight: Callable[[list[JSON]], int]
    created: tuple[tuple[str, str, str], ...] = ()  # (apiVersion, kind, name) canarist owns


# The user's Ingress also carries an annotation and TLS: both must come back as written.
NGINX_WITH_TLS = UserSetup(
    NGINX.options,
    """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "true"}}
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
""",
)

CASES = [
    Case("istio", ISTIO, STEPS_FULL, istio_weight),
    Case("nginx", NGINX_WITH_TLS, STEPS_HEADER, nginx_weight,
         (("networking.k8s.io/v1", "Ingress", "web-web-canary"),)),
    Case("alb", ALB, STEPS_HEADER, alb_weight),
    Case("gateway-api", GATEWAY_API, STEPS_FULL, gateway_weight),
    Case("smi", SMI, STEPS_WEIGHT, smi_weight,
         (("split.smi-spec.io/v1alpha4", "TrafficSplit", "web"),)),
    Case("proxy", PROXY, STEPS_FULL, proxy_weight, (("v1", "ConfigMap", "web-canarist-routes"),)),
]


def setup(cluster: RunningCluster, case: Case) -> tuple[ClusterClient, ReleaseTarget, list[JSON]]:
    ns = f"routers-{next(_ns)}"
    client = ClusterClient(cluster)
    call = cluster.call
    call(client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    annotations = {
        "canarist.io/traffic-router": case.router,
        "canarist.io/steps": case.steps,
        **case.user.options,
    }
    deployment = call(
        client.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "namespace": ns,
                    "annotations": annotations,
                    "labels": {"canarist.io/enabled": "true"},
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "app", "image": "demo"}]},
                    },
                },
            }
        )
    )
    for name in ("web", "web-canary"):
        call(
            client.create(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
                }
            )
        )
    users = []  # as the API server stored them (with its defaults)
    for obj in (d for d in yaml.safe_load_all(case.user.objects) if d):
        obj["metadata"]["namespace"] = ns
        users.append(call(client.create(obj)))
    spec = parse_canary_spec(annotations, deployment="web").spec
    owner = Owner("web", deployment["metadata"]["uid"])
    return client, ReleaseTarget(ns, owner, "web", "web-canary", spec), users


async def snapshot(
    client: ClusterClient, target: ReleaseTarget, case: Case, users: list[JSON]
) -> list[JSON]:
    refs = [
        ObjectRef.of({**u, "metadata": {**u["metadata"], "namespace": target.namespace}})
        for u in users
    ]
    refs += [ObjectRef(a, k, target.namespace, n) for a, k, n in case.created]
    found = [await client.get(ref) for ref in refs]
    return [o for o in found if o is not None]


@pytest.mark.parametrize("case", CASES, ids=[c.router for c in CASES])
def test_a_whole_release_is_accepted_by_the_api_server(cluster: RunningCluster, case: Case) -> None:
    client, target, users = setup(cluster, case)

    async def release() -> list[int]:
        (router,) = build_routers(target, client)
        weights = []
        for index in range(len(target.spec.steps)):
            state = route_state_at(target.spec.steps, index)
            await apply_state(router, state, canary_hash="c2", stable_hash="s1")
            writes = len(client.writes)
            await apply_state(router, state, canary_hash="c2", stable_hash="s1")
            assert len(client.writes) == writes, "a steady reconcile must not write"
            weights.append(case.weight(await snapshot(client, target, case, users)))
        # promotion done: back to stable, routes removed, then the Deployment leaves canarist
        await router.set_weight(0)
        await router.remove_managed_routes()
        assert case.weight(await snapshot(client, target, case, users)) == 0
        await router.cleanup()
        return weights

    weights = asyncio.run(release())
    expected = [route_state_at(target.spec.steps, i).weight for i in range(len(target.spec.steps))]
    assert weights == expected
    after = asyncio.run(snapshot(client, target, case, users))
    for user, now in zip(users, after, strict=False):
        assert now["spec"] == user["spec"], f"{user['kind']} not given back as written"
        assert "canarist.io/managed-by" not in (now["metadata"].get("annotations") or {})
    assert len(after) == len(users)  # everything canarist created is gone


@pytest.mark.parametrize("case", [c for c in CASES if c.created], ids=lambda c: c.router)
def test_objects_canarist_created_go_with_the_deployment(
    cluster: RunningCluster, case: Case
) -> None:
    client, target, _ = setup(cluster, case)

    async def start() -> None:
        (router,) = build_routers(target, client)
        await apply_state(
            router, route_state_at(target.spec.steps, 0), canary_hash="c", stable_hash="s"
        )

    asyncio.run(start())
    refs = [ObjectRef(a, k, target.namespace, n) for a, k, n in case.created]
    assert all(cluster.call(client.get(ref)) is not None for ref in refs)
    cluster.call(client.delete(ObjectRef("apps/v1", "Deployment", target.namespace, "web")))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(cluster.call(client.get(r)) for r in refs):
        time.sleep(0.05)
    assert all(cluster.call(client.get(ref)) is None for ref in refs)
