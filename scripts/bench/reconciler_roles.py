"""The reconciler benchmark's two measured processes (started by ``scripts/bench/reconciler.py``
with ``--role``): the reconciler, with a client that counts its API writes, and the baseline, one
plain write per deadline."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, ClassVar

from webhook.kube.client import KubeClient, SyncClient, connect
from webhook.kube.config import ClientOptions, load
from webhook.kube.protocol import JSON, ObjectRef

NS = "bench"


# --- the reconciler process --------------------------------------------------------------------


class CountingClient(KubeClient):
    """The reconciler's client, counting the writes it issues (by verb and kind)."""

    writes: ClassVar[dict[str, int]] = {}

    @staticmethod
    def count(verb: str, kind: str, subresource: str = "") -> None:
        key = f"{verb} {kind}{'/' + subresource if subresource else ''}"
        CountingClient.writes[key] = CountingClient.writes.get(key, 0) + 1

    async def create(self, obj: JSON) -> JSON:
        self.count("create", str(obj.get("kind")))
        return await super().create(obj)

    async def replace(self, obj: JSON, *, subresource: str = "") -> JSON:
        self.count("replace", str(obj.get("kind")), subresource)
        return await super().replace(obj, subresource=subresource)

    async def patch(self, ref: ObjectRef, patch: Any, **kw: Any) -> JSON:
        self.count("patch", ref.kind, kw.get("subresource", ""))
        return await super().patch(ref, patch, **kw)

    async def delete(self, ref: ObjectRef, **kw: Any) -> bool:
        self.count("delete", ref.kind)
        return await super().delete(ref, **kw)


async def reconciler_main(kubeconfig: str, qps: float, workers: int) -> None:
    from aiohttp import web

    from webhook.release.loop import LoopOptions, Reconciler

    opts = ClientOptions(kubeconfig=kubeconfig, qps=qps, burst=max(1, int(qps * 2)), workers=16)
    client = CountingClient(SyncClient(load(opts)), workers=opts.workers)
    reconciler = Reconciler(client, LoopOptions(namespace=NS, workers=workers, resync=3600))

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"writes": CountingClient.writes,
                                  "reconciles": reconciler.reconciles,
                                  "results": reconciler.metrics.results,
                                  "durations": dict(zip(
                                      [*map(str, reconciler.metrics.duration.buckets), "+Inf"],
                                      reconciler.metrics.duration.counts, strict=True))})

    app = web.Application()
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)
    await reconciler.run(stop)
    await client.aclose()


# --- the baseline process ---------------------------------------------------------------------


async def baseline_main(kubeconfig: str, plan_text: str) -> None:
    """Patch ConfigMap ``base{i}`` at each planned time (seconds after a start it prints)."""
    plan = json.loads(plan_text)
    async with connect(ClientOptions(kubeconfig=kubeconfig, qps=0, workers=16)) as client:
        await client.get(ObjectRef("v1", "Namespace", "", NS))  # connected and warm
        start = time.time() + 0.5
        print(json.dumps({"start": start}), flush=True)

        async def one(name: str, offset: float, value: int) -> None:
            await asyncio.sleep(max(0.0, start + offset - time.time()))
            patch = {"data": {"weight": str(value)}}
            await client.patch(ObjectRef("v1", "ConfigMap", NS, name), patch)

        await asyncio.gather(*(one(n, offset, v) for n, offset, v in plan))
