"""Watch streams over the store: replay from a resourceVersion, live events, bookmarks, 410.

Semantics (k8s-semantics §3.8, apiserver cacher): no resourceVersion or "0" -> a synthetic
ADDED for every matching object, then live events; rv N -> only events after N; an rv older
than the kept history -> one ERROR event carrying a 410 ``Expired`` Status, then the end. A
filtered watch turns an update that makes an object start/stop matching into ADDED/DELETED.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from webhook.cluster.meta import labels_of, metadata
from webhook.cluster.selectors import FieldSelector, Selector
from webhook.cluster.status import status_body
from webhook.cluster.store import Event, Store

Out = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class WatchFilter:
    namespace: str | None
    labels: Selector
    fields: FieldSelector

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and metadata(obj).get("namespace", "") != self.namespace:
            return False
        return self.labels.matches(labels_of(obj)) and self.fields.matches(obj)


def translate(event: Event, flt: WatchFilter) -> tuple[str, dict[str, Any]] | None:
    """What a filtered watcher sees of one store event (None: nothing)."""
    if event.type == "ADDED":
        return ("ADDED", event.obj) if flt.matches(event.obj) else None
    if event.type == "DELETED":
        return ("DELETED", event.obj) if flt.matches(event.old) else None
    now_in, was_in = flt.matches(event.obj), flt.matches(event.old)
    if now_in and was_in:
        return ("MODIFIED", event.obj)
    if now_in:
        return ("ADDED", event.obj)
    if was_in and event.old is not None:
        gone = dict(event.old)
        gone["metadata"] = dict(metadata(event.old), resourceVersion=str(event.rv))
        return ("DELETED", gone)
    return None


_CLOSED = "CLOSED"  # queued by close(): not an event type the API sends


class _Subscriber:
    def __init__(self, flt: WatchFilter) -> None:
        self.flt = flt
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def offer(self, event: Event) -> None:
        seen = translate(event, self.flt)
        if seen is not None:
            self.queue.put_nowait(seen)

    def close(self) -> None:
        self.queue.put_nowait((_CLOSED, {}))


@dataclass(frozen=True)
class WatchRequest:
    resource: str
    kind: str
    api_version: str
    flt: WatchFilter
    resource_version: str | None
    allow_bookmarks: bool
    timeout_seconds: float | None
    send_initial_events: bool
    bookmark_interval: float


def expired_event(requested: int, oldest: int) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": status_body(
            410, "Expired", f"too old resource version: {requested} ({oldest})"
        ),
    }


async def stream(store: Store, req: WatchRequest, out: Out) -> AsyncIterator[dict[str, Any]]:
    """The events of one watch; ``out`` turns a stored object into what the client gets."""
    sub = _Subscriber(req.flt)
    backlog: list[tuple[str, dict[str, Any]]] = []
    rv = req.resource_version
    initial = req.send_initial_events or rv in (None, "", "0")
    if initial:
        backlog = [("ADDED", o) for o in store.iter(req.resource, req.flt.namespace)
                   if req.flt.matches(o)]
    else:
        since = int(rv or 0)
        events = store.events_since(req.resource, since)
        if events is None:
            yield expired_event(since, store.compacted_rv + 1)
            return
        for ev in events:
            seen = translate(ev, req.flt)
            if seen is not None:
                backlog.append(seen)
    store.subscribe(req.resource, sub)  # no await since the snapshot: nothing is missed
    start_rv = store.rv
    try:
        for etype, obj in backlog:
            yield {"type": etype, "object": out(obj)}
        if req.send_initial_events and req.allow_bookmarks:
            yield _bookmark(req, start_rv, initial_end=True)
        deadline = (time.monotonic() + req.timeout_seconds) if req.timeout_seconds else None
        while True:
            wait = req.bookmark_interval if req.allow_bookmarks else None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = left if wait is None else min(wait, left)
            if store.closing:
                return
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                async with asyncio.timeout(wait):
                    etype, obj = await sub.queue.get()
            except TimeoutError:
                if req.allow_bookmarks:
                    yield _bookmark(req, store.rv)
                continue
            if etype == _CLOSED:
                return
            yield {"type": etype, "object": out(obj)}
    finally:
        store.unsubscribe(req.resource, sub)


def _bookmark(req: WatchRequest, rv: int, initial_end: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {
        "type": "BOOKMARK",
        "object": {"kind": req.kind, "apiVersion": req.api_version, "metadata": md},
    }


