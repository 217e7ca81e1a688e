"""Undo from the dashboard: the same decision and write as ``canarist undo``.

``GET /api/v1/releases/{ns}/{name}/undo?toRevision=N&skipSteps=1`` says what an undo would do
now, read fresh from the API (with the user's token under ``--auth token``): the confirmation
dialog shows it. ``POST`` to the same path carries it out; its body is empty, ``{}``, or
``{"toRevision": N, "skipSteps": true}``. Both are ``webhook.kube.undo``'s ``plan_undo``: mid-
release a fast rollback to the stable revision, at rest a release of the previous (or given)
revision through the steps, ``skipSteps`` to skip them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from webhook.dashboard.api import mapped, target
from webhook.dashboard.app import DASHBOARD, TOKEN, error
from webhook.dashboard.permitted import READ_ONLY
from webhook.errors import InvalidInput, Problem
from webhook.kube.client import KubeClient
from webhook.kube.undo import Refused, effect, preview_undo, request_undo

MAX_REVISION = 1 << 31


def options_of(raw: Mapping[str, Any]) -> tuple[int | None, bool]:
    """``toRevision`` and ``skipSteps`` from a body or a query; ``InvalidInput`` naming the bad
    field."""
    problems = []
    unknown = sorted(set(raw) - {"toRevision", "skipSteps"})
    if unknown:
        problems.append(Problem(unknown[0], "unknown field (fields: toRevision, skipSteps)"))
    revision = raw.get("toRevision")
    if isinstance(revision, str) and revision.isdigit() and len(revision) < 11:
        revision = int(revision)
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)
                                 or not 1 <= revision < MAX_REVISION):
        problems.append(Problem("toRevision", f"must be a revision number (1 or more), got "
                                              f"{revision!r}"[:120]))
    skip = raw.get("skipSteps", False)
    if skip in ("1", "true"):
        skip = True
    elif skip in ("", "0", "false"):
        skip = False
    if not isinstance(skip, bool):
        problems.append(Problem("skipSteps", f"must be true or false, got {skip!r}"[:120]))
    if problems:
        raise InvalidInput(problems, subject="undo")
    return revision if isinstance(revision, int) else None, skip


def body_options(body: bytes) -> tuple[int | None, bool]:
    if not body.strip():
        return None, False
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"undo: the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("undo: the body must be a JSON object")
    return options_of(doc)


async def _client(request: web.Request) -> KubeClient:
    d = request.app[DASHBOARD]
    token = request.get(TOKEN)
    return await d.users.get(token) if d.users is not None and token else d.client


@mapped
async def preview(request: web.Request) -> web.Response:
    ns, name = target(request)
    revision, skip = options_of({k: request.query[k] for k in request.query})
    decided, phase = await preview_undo(await _client(request), ns, name, to_revision=revision,
                                        skip_steps=skip)
    if isinstance(decided, Refused):
        return web.json_response({"allowed": False, "reason": decided.reason})
    return web.json_response({"allowed": True, "kind": decided.kind.value,
                              "revision": decided.revision, "hash": decided.hash,
                              "effect": effect(decided, phase)})


@mapped
async def act(request: web.Request) -> web.Response:
    d = request.app[DASHBOARD]
    ns, name = target(request)
    if d.options.read_only:
        return error(403, f"refused: {READ_ONLY}")
    revision, skip = body_options(await request.read())
    result = await request_undo(await _client(request), ns, name, to_revision=revision,
                                skip_steps=skip)
    if not result.done:
        return error(409, result.message)
    return web.json_response({"done": True, "message": result.message})


def add_routes(app: web.Application) -> None:
    # registered before the generic action route, which would take "undo" as an action
    app.router.add_get("/api/v1/releases/{namespace}/{name}/undo", preview)
    app.router.add_post("/api/v1/releases/{namespace}/{name}/undo", act)
