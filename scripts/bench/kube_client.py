#!/usr/bin/env python3
"""Benchmark of ``webhook.kube``'s API client against the official client's own ways; prints JSON.

The API server is ``canarist up`` (API only) in its own process, over HTTPS on loopback. Three
clients are measured in the same run, each for every figure:

* ``canarist``: ``KubeClient`` (raw JSON through the official client's REST layer, calls run on
  a bounded thread pool; the client-side QPS limit is off here);
* ``aio_raw``: ``kubernetes.aio`` (aiohttp, on the event loop), raw JSON too — the other way to
  be asynchronous that the brief names;
* ``typed_thread``: the official typed API (``CoreV1Api``/``AppsV1Api``, pydantic models) in
  ``asyncio.to_thread`` — what code usually writes.

Figures (medians of ``--repeat`` rounds): ``get_ms`` (one small ConfigMap, sequential, median
latency), ``get_rps_16`` (16 concurrent GETs, throughput), ``list_ms`` (``--objects``
Deployments, one list), and ``watch_events_per_s`` (a watch from the resourceVersion before the
``--objects`` Deployments were created: the server replays them at once, so the figure is how
fast the client takes events in — ``WatchStream`` against the official ``Watch``, which builds a
typed ``V1Deployment`` per event). ``canarist_advantage`` is > 1 where canarist does better.

    python scripts/bench/kube_client.py [--repeat 5] [--objects 200] [--gets 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.aio import client as aclient
from kubernetes.aio import config as aconfig

from scripts.bench._common import cluster_process
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.watch import WatchStream

NS = "bench"


def deployment(i: int) -> dict[str, Any]:
    labels = {"app": f"d{i}"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"d{i}", "namespace": NS, "labels": {"bench": "list"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "app", "image": "demo:v1", "ports": [{"containerPort": 80}],
                          "env": [{"name": f"E{j}", "value": "x" * 20} for j in range(8)]}]}}}}


async def seed(c: KubeClient, objects: int) -> str:
    await c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    await c.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "one", "namespace": NS}, "data": {"k": "v" * 500}})
    _, since = await c.list_all("apps/v1", "Deployment", NS)
    await asyncio.gather(*(c.create(deployment(i)) for i in range(objects)))
    return since


async def sequential(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


async def concurrent(fn: Callable[[], Awaitable[Any]], n: int, width: int = 16) -> float:
    sem = asyncio.Semaphore(width)

    async def one() -> None:
        async with sem:
            await fn()

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - t)


class Clients:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.ours = connect(ClientOptions(kubeconfig=str(kubeconfig), namespace=NS, qps=0))
        self.typed = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig))
        self.core = k8s.CoreV1Api(self.typed)
        self.apps = k8s.AppsV1Api(self.typed)
        self.aio: Any = None
        self.since = ""  # the resourceVersion before the Deployments were created

    async def open_aio(self) -> None:
        cfg = aclient.Configuration()
        await aconfig.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=cfg)
        self.aio = aclient.ApiClient(cfg)

    async def aio_raw(self, path: str) -> Any:
        m, u, h, b, p = await self.aio.param_serialize("GET", path, auth_settings=["BearerToken"])
        resp = await self.aio.call_api(m, u, h, b, p)
        return json.loads(await resp.read())

    async def close(self) -> None:
        await self.ours.aclose()
        self.typed.close()
        if self.aio is not None:
            await self.aio.close()


async def round_(c: Clients, gets: int, objects: int) -> dict[str, dict[str, float]]:
    from webhook.kube.protocol import ObjectRef

    one = ObjectRef("v1", "ConfigMap", NS, "one")
    get_path = f"/api/v1/namespaces/{NS}/configmaps/one"
    list_path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    fns: dict[str, dict[str, Callable[[], Awaitable[Any]]]] = {
        "canarist": {"get": lambda: c.ours.get(one),
                     "list": lambda: c.ours.list("apps/v1", "Deployment", NS)},
        "aio_raw": {"get": lambda: c.aio_raw(get_path), "list": lambda: c.aio_raw(list_path)},
        "typed_thread": {
            "get": lambda: asyncio.to_thread(c.core.read_namespaced_config_map, "one", NS),
            "list": lambda: asyncio.to_thread(c.apps.list_namespaced_deployment, NS)},
    }
    out: dict[str, dict[str, float]] = {}
    for name, f in fns.items():
        await sequential(f["get"], 20)  # warm the connections
        out[name] = {
            "get_ms": await sequential(f["get"], gets),
            "get_rps_16": await concurrent(f["get"], gets),
            "list_ms": await sequential(f["list"], 15),
        }
    out["canarist"]["watch_events_per_s"] = await replay_ours(c, c.since, objects)
    out["typed_thread"]["watch_events_per_s"] = await replay_typed(c, c.since, objects)
    return out


async def replay_ours(c: Clients, since: str, n: int) -> float:
    """Events per second our watch stream parses: the server replays ``n`` ADDED events."""
    res = await c.ours.resource("apps/v1", "Deployment")
    assert res is not None
    t = time.perf_counter()
    stream = WatchStream(lambda: c.ours.sync.open_watch(res, NS, resource_version=since,
                                                         bookmarks=False))
    count = 0
    async for _ in stream:
        count += 1
        if count >= n:
            break
    elapsed = time.perf_counter() - t
    stream.close()
    return n / elapsed


async def replay_typed(c: Clients, since: str, n: int) -> float:
    """The same with the official ``Watch`` (typed ``V1Deployment`` per event) in a thread."""
    w: Any = k8s_watch.Watch()  # type: ignore[no-untyped-call]

    def follow() -> float:
        t = time.perf_counter()
        events = w.stream(c.apps.list_namespaced_deployment, NS, resource_version=since)
        for count, _ in enumerate(events, start=1):
            if count >= n:
                w.stop()
                break
        return n / (time.perf_counter() - t)

    return await asyncio.to_thread(follow)


async def main_async(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    c = Clients(kubeconfig)
    await c.open_aio()
    try:
        c.since = await seed(c.ours, args.objects)
        rounds = [await round_(c, args.gets, args.objects) for _ in range(args.repeat)]
    finally:
        await c.close()
    medians: dict[str, dict[str, float]] = {}
    for client in rounds[0]:
        medians[client] = {k: round(statistics.median(r[client][k] for r in rounds), 3)
                           for k in rounds[0][client]}
    ours = medians["canarist"]
    ratios = {}
    for base in ("aio_raw", "typed_thread"):
        for k, v in medians[base].items():
            # > 1 means canarist is better (faster, or more per second)
            better = ours[k] / v if k.endswith("_s") or "rps" in k else v / ours[k]
            ratios[f"{k} vs {base}"] = round(better, 2)
    return {"repeat": args.repeat, "objects": args.objects, "gets": args.gets,
            "medians": medians, "canarist_advantage": ratios,
            "rounds": rounds, "cpus": os.cpu_count(), "load": os.getloadavg()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--objects", type=int, default=200)
    p.add_argument("--gets", type=int, default=300)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp, "kubeconfig")
        with cluster_process(kubeconfig, "gc,controllers,kubelet,webhook"):
            result = asyncio.run(main_async(args, kubeconfig))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
