"""The JSON API under ``/api/v1/`` and the page routes (``docs/dashboard.md`` has examples).

| method and path | answer |
|---|---|
| ``GET /api/v1/config`` | ``{"auth", "readOnly", "version", "rates"}`` (no token needed) |
| ``GET /api/v1/releases?ns=&phase=&policy=&attention=1&q=`` | the rows of the list page |
| ``GET /api/v1/releases/{namespace}/{name}`` | one release's detail page |
| ``POST /api/v1/releases/{namespace}/{name}/{action}`` | ask for an action |
| ``GET``/``POST /api/v1/releases/{namespace}/{name}/undo`` | what undo would do / do it |
| ``GET /api/v1/stream``, ``GET /api/v1/releases/{ns}/{name}/stream`` | server-sent events |
| ``GET /healthz`` | ``ok`` once the cache is in sync, else 503 |
| ``GET /metrics`` | the dashboard's own figures, Prometheus text |

Errors are JSON ``{"error": "..."}``, mapped here once: bad input 400, no or rejected token
401, RBAC (or admission) refusal 403 ("Permission denied: ..."), not found 404, an action the
release does not allow now 409, the API server unreachable or the cache not in sync 503.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from webhook import __version__
from webhook.dashboard import access as acl
from webhook.dashboard.app import DASHBOARD, STATIC, TOKEN, error
from webhook.dashboard.metrics import metrics
from webhook.dashboard.permitted import ACTIONS, READ_ONLY, UNDO
from webhook.dashboard.state import Dashboard
from webhook.dashboard.summary import Filters, attention
from webhook.errors import (
    CanaristError,
    Conflict,
    Forbidden,
    Invalid,
    InvalidInput,
    KubeError,
    NotFound,
    Unavailable,
)
from webhook.kube.config import check_namespace
from webhook.kube.controls import check_name, request_action
from webhook.spec import Action

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def map_error(exc: CanaristError) -> web.Response:
    """The one place errors become HTTP answers."""
    if isinstance(exc, InvalidInput):
        return error(400, str(exc))
    if isinstance(exc, Forbidden):
        if exc.status == 401:
            return error(401, f"the API server did not accept the token: {exc}")
        return error(403, f"Permission denied: {exc}")
    if isinstance(exc, NotFound):
        return error(404, str(exc))
    if isinstance(exc, Conflict):
        return error(409, str(exc))
    if isinstance(exc, Invalid):  # e.g. an admission webhook's (a cluster policy's) denial
        return error(422, str(exc))
    if isinstance(exc, Unavailable):
        return error(503, f"the API server is unavailable: {exc}")
    if isinstance(exc, KubeError):
        return error(502, str(exc))
    return error(500, str(exc))


def mapped(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except CanaristError as exc:
            return map_error(exc)

    return run


def target(request: web.Request) -> tuple[str, str]:
    ns, name = request.match_info["namespace"], request.match_info["name"]
    check_namespace(ns, "namespace")
    check_name(name)
    return ns, name


def not_synced(dashboard: Dashboard) -> web.Response | None:
    if dashboard.cache.synced:
        return None
    why = dashboard.cache.problem()
    return error(503, "the cache is not in sync with the API server yet" +
                 (f": {why}" if why else ""))


async def readable_release(request: web.Request) -> tuple[str, str, str | None] | web.Response:
    """The release a request names and the request's token, once the cache is in sync and the
    token may get that release; else the response refusing the request (503 or 403)."""
    d = request.app[DASHBOARD]
    ns, name = target(request)
    if (unsynced := not_synced(d)) is not None:
        return unsynced
    token = request.get(TOKEN)
    if not await d.may(token, acl.get_release(ns, name)):
        return error(403, f"Permission denied: you may not get deployment {ns}/{name}")
    return ns, name, token


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def config(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    return web.json_response({"auth": d.options.auth, "readOnly": d.options.read_only,
                              "version": __version__, "rates": d.rates is not None})


async def healthz(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    if d.cache.synced:
        return web.Response(text="ok\n")
    return web.Response(text=f"syncing {d.cache.problem()}\n".replace("  ", " "), status=503)


async def visible_rows(d: Dashboard, token: str | None) -> list[dict[str, Any]]:
    allowed = await d.visible(token)
    return [r for r in d.rows() if allowed is None or r["namespace"] in allowed]


@mapped
async def releases(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    filters = Filters.parse({k: request.query.getall(k) for k in request.query})
    if (unsynced := not_synced(d)) is not None:
        return unsynced
    now = time.time()
    rows = await visible_rows(d, request.get(TOKEN))
    items = [dict(r, attention=attention(r, now)) for r in rows if filters.matches(r, now)]
    return web.json_response({
        "items": items,
        "namespaces": sorted({r["namespace"] for r in rows}),
        "policies": sorted({r["policy"] for r in rows if r["policy"]}),
        "total": len(rows),
        "seq": d.cache.seq,
        "serverTime": now,
    })


@mapped
async def release(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    if isinstance(allowed := await readable_release(request), web.Response):
        return allowed
    ns, name, token = allowed
    doc = await d.detail(ns, name, token)
    if doc is None:
        return error(404, f"no Deployment {ns}/{name} managed by canarist")
    return web.json_response(doc)


@mapped
async def act(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    ns, name = target(request)
    action = request.match_info["action"]
    if action not in ACTIONS or action == UNDO:  # (undo has its own route: ``undo``)
        return error(404, f"unknown action {action!r} (actions: {', '.join(ACTIONS)})")
    if d.options.read_only:
        return error(403, f"refused: {READ_ONLY}")
    body = await request.read()  # bounded by client_max_size
    if body.strip() not in (b"", b"{}"):
        return error(400, "an action takes no body (or {})")
    token = request.get(TOKEN)
    client = await d.users.get(token) if d.users is not None and token else d.client
    result = await request_action(client, ns, name, Action(action))
    if not result.done:
        return error(409, result.message)
    return web.json_response({"done": True, "message": result.message})


def add_routes(app: web.Application) -> None:
    from webhook.dashboard import undo

    undo.add_routes(app)
    app.router.add_get("/", page)
    app.router.add_get("/releases/{namespace}/{name}", page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/config", config)
    app.router.add_get("/api/v1/releases", releases)
    app.router.add_get("/api/v1/releases/{namespace}/{name}", release)
    app.router.add_post("/api/v1/releases/{namespace}/{name}/{action}", act)
