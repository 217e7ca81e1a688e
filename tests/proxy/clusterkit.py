"""Helpers for the cluster-mode tests: objects on the embedded cluster and traffic counting."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import JSON, ObjectRef
from webhook.spec.routetable import ROUTE_TABLE_KEY, ROUTE_TABLE_LABEL

_names = itertools.count()


@asynccontextmanager
async def namespace(cluster: RunningCluster, prefix: str = "px") -> AsyncIterator[
        tuple[KubeClient, str]]:
    """A fresh namespace and a client of the cluster; the namespace is deleted afterwards."""
    ns = f"{prefix}{next(_names)}"
    opts = ClientOptions(kubeconfig=str(cluster.kubeconfig), namespace=ns, qps=0)
    async with connect(opts) as client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        try:
            yield client, ns
        finally:
            await client.delete(ObjectRef("v1", "Namespace", "", ns))


def deployment(ns: str, name: str, version: str, replicas: int, *, app: str,
               ready_after: float = 0.0) -> JSON:
    """Pods serving the demo app (JSON with their version) on port 8080, labelled ``app``."""
    container: dict[str, Any] = {"name": "app", "image": f"demo:{version}",
                                 "ports": [{"name": "http", "containerPort": 8080}]}
    if ready_after:
        container["env"] = [{"name": "DEMO_READY_AFTER_S", "value": str(ready_after)}]
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                                       "periodSeconds": 1}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}},
                              "spec": {"containers": [container]}}},
    }


def service(ns: str, name: str, app: str, port: int = 80) -> JSON:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": app},
                     "ports": [{"name": "http", "port": port, "targetPort": "http"}]}}


def routes_configmap(ns: str, name: str, routes: list[dict[str, Any]] | str) -> JSON:
    text = routes if isinstance(routes, str) else json.dumps({"routes": routes})
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {ROUTE_TABLE_LABEL: "true"}},
            "data": {ROUTE_TABLE_KEY: text}}


def cm_ref(ns: str, name: str) -> ObjectRef:
    return ObjectRef("v1", "ConfigMap", ns, name)


async def put_routes(client: KubeClient, ns: str, name: str,
                     routes: list[dict[str, Any]] | str) -> None:
    obj = routes_configmap(ns, name, routes)
    current = await client.get(cm_ref(ns, name))
    if current is None:
        await client.create(obj)
    else:
        await client.patch(cm_ref(ns, name), {"data": obj["data"]})


async def wait_until(what: str, probe: Callable[[], Any], within: float = 20.0) -> Any:
    """Poll ``probe`` (plain or async) until it gives a true value, and return that value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


async def ready_pods(client: KubeClient, ns: str, app: str = "", *,
                     selector: str = "") -> list[str]:
    """The IPs of the ready pods labelled ``app`` (or matching ``selector``)."""
    pods = await client.list("v1", "Pod", ns, label_selector=selector or f"app={app}")
    out = []
    for pod in pods:
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions) \
                and not pod["metadata"].get("deletionTimestamp"):
            out.append(pod["status"]["podIP"])
    return sorted(out)


@asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        yield s


async def hits(http: aiohttp.ClientSession, url: str, n: int, *, concurrency: int = 8,
               **kw: Any) -> list[tuple[int, str, JSON]]:
    """``n`` requests from concurrent clients: (status, x-canarist-version, JSON body)."""
    out: list[tuple[int, str, JSON]] = []
    todo = iter(range(n))

    async def client() -> None:
        for _ in todo:
            async with http.get(url, **kw) as resp:
                text = await resp.text()
                body = json.loads(text) if resp.content_type == "application/json" else {
                    "text": text}
                out.append((resp.status, resp.headers.get("x-canarist-version", ""), body))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return out


def versions(answers: list[tuple[int, str, JSON]]) -> Counter[str]:
    """How many answers came from pods of each version (the pods' own word)."""
    return Counter(str(body.get("version")) for status, _, body in answers if status == 200)


def statuses(answers: list[tuple[int, str, JSON]]) -> Counter[int]:
    return Counter(status for status, _, _ in answers)
