"""Server-sent events: live updates of the list and of one release, fit for proxies.

``GET /api/v1/stream`` sends ``snapshot`` (every row the caller may see) and then ``changes``
(``upserts`` and ``deletes``) for each batch of the cache's change feed; ``GET
/api/v1/releases/{ns}/{name}/stream`` sends ``release`` (the whole detail document) whenever
that release changes, ``rates`` when the proxy poller has new samples, and ``gone`` when it is
deleted or leaves canarist. Each event's ``id`` is ``<epoch>-<seq>``: the cache's batch number
after a token drawn when the process started. A browser (or a script) that reconnects with
``Last-Event-ID`` gets what changed since, or a new snapshot when the server no longer remembers
that far back, or when the id is another process's: each replica of the dashboard (or a
restarted one) numbers its batches its own way, so a stream that lands on another one after a
reconnect must never be given changes counted from a number that is not its own.

For proxies and ingresses: a comment line every ``heartbeat`` seconds keeps idle connections
open and shows the stream is alive; ``X-Accel-Buffering: no`` and ``Cache-Control: no-cache,
no-transform`` keep nginx and others from buffering or compressing it; the answer is never
compressed here. The page falls back to polling the JSON API when a stream cannot be held.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from webhook.dashboard import access as acl
from webhook.dashboard.api import mapped, not_synced, readable_release, visible_rows
from webhook.dashboard.app import DASHBOARD, TOKEN, error
from webhook.dashboard.state import Dashboard
from webhook.kube.informer import Key

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def event(name: str, data: Any, event_id: str | None = None) -> bytes:
    """One event; JSON has no raw newline, so ``data`` is one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {_ENCODER.encode(data)}\n\n".encode()


def event_id(epoch: str, seq: int) -> str:
    return f"{epoch}-{seq}"


def seq_of(epoch: str, raw: str) -> int | None:
    """The batch number of a ``Last-Event-ID`` this process gave, else ``None``."""
    mine, dash, seq = raw.partition("-")
    if not dash or mine != epoch or not (seq.isascii() and seq.isdigit()) or len(seq) >= 19:
        return None
    return int(seq)


def last_event_id(request: web.Request, epoch: str) -> int | None:
    return seq_of(epoch, request.headers.get("Last-Event-ID", ""))


async def _open(request: web.Request, d: Dashboard) -> web.StreamResponse | None:
    if d.streams >= d.options.max_streams:
        return None
    resp = web.StreamResponse(status=200, headers=SSE_HEADERS)
    await resp.prepare(request)
    await resp.write(b"retry: 3000\n\n")
    return resp


@mapped
async def list_stream(request: web.Request) -> web.StreamResponse:
    d = request.app[DASHBOARD]
    if (unsynced := not_synced(d)) is not None:
        return unsynced
    token = request.get(TOKEN)
    await d.visible(token)  # a rejected token is refused before the stream starts
    resp = await _open(request, d)
    if resp is None:
        return error(503, "too many open streams; poll /api/v1/releases instead")
    d.streams += 1
    try:
        seq = d.cache.seq
        last = last_event_id(request, d.cache.epoch)
        missed = d.cache.since(last) if last is not None else None
        if missed is not None:
            await resp.write(await _changes(d, token, missed, seq))
        else:
            await resp.write(await _snapshot(d, token, seq))
        allowed = await d.visible(token)
        while not d.closing:
            newest = await d.cache.wait(seq, d.options.heartbeat)
            if d.is_closing():
                break
            if newest == seq:
                await resp.write(b": keep-alive\n\n")
                continue
            changed, seq = d.cache.since(seq), newest
            now_allowed = await d.visible(token)
            if changed is None or now_allowed != allowed:
                allowed = now_allowed
                await resp.write(await _snapshot(d, token, seq))
            else:
                await resp.write(await _changes(d, token, changed, seq))
    except (ConnectionResetError, RuntimeError):
        pass  # the browser went away (aiohttp raises one of these on write)
    finally:
        d.streams -= 1
    return resp


async def _snapshot(d: Dashboard, token: str | None, seq: int) -> bytes:
    rows = await visible_rows(d, token)
    return event("snapshot", {"items": rows, "serverTime": time.time()},
                 event_id(d.cache.epoch, seq))


async def _changes(d: Dashboard, token: str | None, keys: frozenset[Key], seq: int) -> bytes:
    allowed = await d.visible(token)
    upserts, deletes = [], []
    for key in sorted(keys):
        row = d.row(key)
        if row is None or (allowed is not None and key[0] not in allowed):
            deletes.append(f"{key[0]}/{key[1]}")
        else:
            upserts.append(row)
    return event("changes", {"upserts": upserts, "deletes": deletes,
                             "serverTime": time.time()}, event_id(d.cache.epoch, seq))


@mapped
async def release_stream(request: web.Request) -> web.StreamResponse:
    d = request.app[DASHBOARD]
    if isinstance(allowed := await readable_release(request), web.Response):
        return allowed
    ns, name, token = allowed
    resp = await _open(request, d)
    if resp is None:
        return error(503, "too many open streams; poll the release instead")
    d.streams += 1
    try:
        await _release_loop(d, resp, ns, name, token)
    except (ConnectionResetError, RuntimeError):
        pass
    finally:
        d.streams -= 1
    return resp


async def _release_loop(d: Dashboard, resp: web.StreamResponse, ns: str, name: str,
                        token: str | None) -> None:
    seq = d.cache.seq
    doc = await d.detail(ns, name, token)
    eid = event_id(d.cache.epoch, seq)
    await resp.write(event("release", doc, eid) if doc else event("gone", {}, eid))
    tick = min(d.options.heartbeat, d.options.rates_interval)
    first = (doc or {}).get("rates", {}).get("samples") or ()
    sent_rates = first[-1][0] if first else 0.0  # time of the newest sample sent
    quiet = 0.0
    while not d.closing:
        newest = await d.cache.wait(seq, tick)
        if d.is_closing():
            return
        if newest != seq:
            changed, seq = d.cache.since(seq), newest
            if changed is not None and (ns, name) not in changed:
                continue
            eid = event_id(d.cache.epoch, seq)
            if not await d.may(token, acl.get_release(ns, name)):
                await resp.write(event("gone", {"reason": "permission"}, eid))
                return
            doc = await d.detail(ns, name, token)
            await resp.write(event("release", doc, eid) if doc else event("gone", {}, eid))
            quiet = 0.0
            continue
        rates = _rates(d, ns, name, doc)
        samples = rates.get("samples") or []
        if rates.get("enabled") and samples and samples[-1][0] != sent_rates:
            sent_rates = samples[-1][0]
            await resp.write(event("rates", rates))
            quiet = 0.0
            continue
        quiet += tick
        if quiet >= d.options.heartbeat:
            await resp.write(b": keep-alive\n\n")
            quiet = 0.0


def _rates(d: Dashboard, ns: str, name: str, doc: dict[str, Any] | None) -> dict[str, Any]:
    deployment = d.cache.release(ns, name)
    if deployment is None or doc is None:
        return {}
    return d.rates_of(deployment, doc)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/stream", list_stream)
    app.router.add_get("/api/v1/releases/{namespace}/{name}/stream", release_stream)
