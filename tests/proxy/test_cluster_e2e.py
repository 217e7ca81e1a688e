"""End to end: the release engine drives ``canarist proxy`` in cluster mode.

The embedded cluster (API server, admission webhook, controllers, pods that are real HTTP servers
answering JSON with their version) runs a Deployment released with
``canarist.io/traffic-router: proxy``; the reconciler's ``proxy`` router writes the route table
ConfigMap; the real ``canarist proxy --kubeconfig`` process follows it. At every step (0 when
adopted, 10, 50, 100, then 0 again after promotion) the share of traffic measured through the
proxy, by the pods' own answers, is exactly the step's weight.
"""

from __future__ import annotations

import functools
import json
import math
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.release.e2e import Harness, harness
from webhook.cluster.runtime import RunningCluster
from webhook.spec import Phase

from .clusterkit import (
    deployment,
    hits,
    namespace,
    put_routes,
    ready_pods,
    service,
    session,
    statuses,
    versions,
    wait_until,
)
from .processkit import Running

pytestmark = pytest.mark.slow

STEPS = """
- setWeight: 10
- setHeaderRoute:
    name: beta
    match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]
- setMirrorRoute: {name: copy, percentage: 100, match: [{method: {exact: POST}}]}
- pause: {}
- setWeight: 50
- pause: {}
- setWeight: 100
- pause: {}
"""
ANNOTATIONS = {
    "canarist.io/traffic-router": "proxy",
    "canarist.io/steps": STEPS,
    "canarist.io/scale-down-delay": "1s",
}
REPLICAS = 4


def admin_get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return str(resp.read().decode())


def route_view(proxy: Running) -> dict[str, Any] | None:
    workers = json.loads(admin_get(proxy.admin, "/routes"))["workers"]
    routes = workers[0]["routes"] if workers else []
    return next((r for r in routes if r["name"] == "web"), None)


def proxy_holds(proxy: Running, weight: int, stable: list[str], canary: list[str]) -> bool:
    view = route_view(proxy)
    if view is None:
        return False
    ips = {v: sorted(e.rpartition(":")[0] for e in eps) for v, eps in view["endpoints"].items()}
    return bool(view["weight"] == weight and ips.get("stable") == stable
                and ips.get("canary") == canary)


async def behind(h: Harness, service: str) -> list[str]:
    """The ready pods the Service selects now (none before it exists)."""
    if await h.get("Service", service) is None:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted((await h.selector(service)).items()))
    return await ready_pods(h.client, h.ns, selector=selector)


async def at_step(h: Harness, proxy: Running, weight: int) -> None:
    """Wait until the proxy serves ``weight`` over every ready pod of each version."""
    canary_n = math.ceil(REPLICAS * weight / 100)

    async def held() -> bool:
        stable = await behind(h, "web")
        canary = await behind(h, "web-canary")
        if len(stable) != REPLICAS or len(canary) < canary_n:
            return False
        return proxy_holds(proxy, weight, stable, canary)

    await wait_until(f"the proxy at weight {weight}", held, within=30)


async def measure(url: str, n: int = 100, **kw: Any) -> tuple[dict[str, int], dict[str, int]]:
    """(versions answered by the pods, x-canarist-version headers) of ``n`` requests."""
    async with session() as http:
        answers = await hits(http, url, n, **kw)
    assert statuses(answers) == {200: n}, statuses(answers)
    headers: dict[str, int] = {}
    for _, version, _ in answers:
        headers[version] = headers.get(version, 0) + 1
    return dict(versions(answers)), headers


def mirror_sent(proxy: Running) -> int:
    found = re.search(r'canarist_proxy_mirror_requests_total\{route="web",result="sent"\} (\d+)',
                      admin_get(proxy.admin, "/metrics"))
    return int(found[1]) if found else 0


async def test_a_release_through_the_proxy_in_cluster_mode(proxy_cluster: RunningCluster,
                                                           tmp_path: Path) -> None:
    async with harness(proxy_cluster, ANNOTATIONS, replicas=REPLICAS) as h:
        proxy = Running(["--kubeconfig", str(proxy_cluster.kubeconfig), "--namespace", h.ns,
                         "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]).started()
        try:
            await release(h, proxy)
        finally:
            assert proxy.stop() == 0


async def release(h: Harness, proxy: Running) -> None:
    url = f"http://127.0.0.1:{proxy.port}/"
    # adopted: the router's route (weight 0) already sends everything to the stable pods
    await at_step(h, proxy, 0)
    assert await measure(url) == ({"v1": 100}, {"stable": 100})
    await h.set_version("v2")
    status = await h.wait("weight 10", lambda s, d: s.step == 3 and s.weight == 10)
    v2 = status.canary_hash

    await at_step(h, proxy, 10)
    assert await measure(url) == ({"v1": 90, "v2": 10}, {"stable": 90, "canary": 10})
    # header route: every matching request goes to the canary
    assert await measure(url, 30, headers={"X-Canary": "yes"}) == ({"v2": 30}, {"canary": 30})
    # mirror: every POST is copied to a canary pod, the client gets its own version's answer
    before = mirror_sent(proxy)
    async with session() as http:
        posts = [await (await http.post(url, data=b"payload")).json() for _ in range(10)]
    # the split runs on over the POSTs: 10 more requests at weight 10 are 9 stable, 1 canary
    assert sorted(p["version"] for p in posts) == ["v1"] * 9 + ["v2"]
    await wait_until("10 copies sent", lambda: mirror_sent(proxy) - before == 10, within=10)

    await h.annotate("promote")
    await h.wait("weight 50", lambda s, d: s.step == 5 and s.weight == 50)
    await at_step(h, proxy, 50)
    assert await measure(url) == ({"v1": 50, "v2": 50}, {"stable": 50, "canary": 50})

    await h.annotate("promote")
    await h.wait("weight 100", lambda s, d: s.step == 7 and s.weight == 100)
    await at_step(h, proxy, 100)
    assert await measure(url) == ({"v2": 100}, {"canary": 100})

    await h.annotate("promote")
    await h.wait("promoted", lambda s, d: s.phase == Phase.HEALTHY and s.stable_hash == v2,
                 within=40)
    # weight 0 again, the stable Service now on v2; the canary's pods leave the proxy
    await at_step(h, proxy, 0)
    assert await measure(url) == ({"v2": 100}, {"stable": 100})
    view = route_view(proxy)
    assert view is not None and view["headerRoutes"] == [] and view["mirror"] is None


async def test_every_worker_follows_the_cluster(proxy_cluster: RunningCluster) -> None:
    """``--workers 2``: each worker runs its own informers and applies changes by itself; a
    worker's split is exact over its own requests, so 200 requests are within 2 of the weight."""
    async with namespace(proxy_cluster) as (client, ns):
        await client.create(service(ns, "web", "web-v1"))
        await client.create(service(ns, "web-canary", "web-v2"))
        await client.create(deployment(ns, "web-v1", "v1", 1, app="web-v1"))
        await client.create(deployment(ns, "web-v2", "v2", 1, app="web-v2"))
        route = {"name": "web", "stable": {"service": "web", "port": 80},
                 "canary": {"service": "web-canary", "port": 80}, "weight": 20}
        await put_routes(client, ns, "routes", [route])
        proxy = Running(["--kubeconfig", str(proxy_cluster.kubeconfig), "--namespace", ns,
                         "--workers", "2", "--listen", "127.0.0.1:0",
                         "--admin-listen", "127.0.0.1:0"]).started(workers=2)
        try:
            url = f"http://127.0.0.1:{proxy.port}/"
            for weight in (20, 70):
                await put_routes(client, ns, "routes", [dict(route, weight=weight)])
                await wait_until(f"both workers at {weight}",
                                 functools.partial(all_workers, proxy, weight, 2), within=30)
                found, _ = await measure(url, 200, concurrency=16)
                assert abs(found.get("v2", 0) - 2 * weight) <= 2, found
        finally:
            assert proxy.stop() == 0


def all_workers(proxy: Running, weight: int, n: int) -> bool:
    workers = json.loads(admin_get(proxy.admin, "/routes"))["workers"]
    views = [next((r for r in w["routes"] if r["name"] == "web"), None) for w in workers]
    return len(views) == n and all(
        v is not None and v["weight"] == weight and len(v["endpoints"]["stable"]) == 1
        and len(v["endpoints"]["canary"]) == 1 for v in views)
