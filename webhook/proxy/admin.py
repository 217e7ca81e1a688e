"""The admin listener: Prometheus ``/metrics``, the JSON ``/summary``, ``/routes`` and ``/healthz``.

It reads metrics through a snapshot function, so the same app serves one worker's live counters
or the merged counters of several worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from webhook.proxy.metrics import Snapshot, render_prometheus, summarize

SnapshotFn = Callable[[], Snapshot]
RoutesFn = Callable[[], list[dict[str, Any]]]  # per worker: {"pid": ..., "routes": [...]}


def admin_app(snapshot: SnapshotFn, window_seconds: int,
              ready: Callable[[], bool] = lambda: True,
              routes: RoutesFn = list) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=render_prometheus(snapshot()),
                            content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def summary(request: web.Request) -> web.Response:
        raw = request.query.get("window", str(window_seconds))
        if not raw.isdigit() or not 1 <= int(raw) <= window_seconds:
            return web.json_response(
                {"error": f"window must be an integer between 1 and {window_seconds} (seconds), "
                          f"got {raw!r}"}, status=400)
        return web.json_response(summarize(snapshot(), int(raw)),
                                 headers={"Cache-Control": "no-store"})

    async def routes_in_force(_: web.Request) -> web.Response:
        return web.json_response({"workers": routes()}, headers={"Cache-Control": "no-store"})

    async def healthz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok\n")
        return web.Response(text="draining\n", status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/summary", summary)
    app.router.add_get("/routes", routes_in_force)
    app.router.add_get("/healthz", healthz)
    return app


async def start_admin(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])
