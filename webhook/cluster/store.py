"""In-memory storage: objects, one global resourceVersion counter, event history, indexes.

Like etcd behind kube-apiserver, every write anywhere bumps one counter and is recorded as an
event; the history is bounded (``history_size``): a watch asking for a revision older than what
is kept gets ``410 Expired`` (compaction). Stored objects are never mutated after ``put``:
callers hand in a fresh dict and copy on the way out.

Indexes kept on every write: uid -> key (owner lookups), owner uid -> dependents (garbage
collection) and per-namespace buckets (cheap namespaced lists).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from webhook.cluster.meta import metadata, owner_uids

Key = tuple[str, str, str]  # resource, namespace ("" if cluster-scoped), name


@dataclass(frozen=True)
class Event:
    rv: int
    resource: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Subscriber(Protocol):
    def offer(self, event: Event) -> None: ...

    def close(self) -> None:
        """The store is shutting down: end the watch."""
        ...


class Store:
    def __init__(self, history_size: int = 50_000) -> None:
        self.rv = 1
        self.compacted_rv = 1  # events with rv > compacted_rv are all in the history
        self.history: deque[Event] = deque()
        self.history_size = max(1, history_size)
        self._objects: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # res->ns->name
        self._uids: dict[str, Key] = {}
        self._dependents: dict[str, set[Key]] = {}
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self.closing = False  # shutting down: watches end, new ones end at once

    # --- reads ------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(resource, {}).get(namespace, {}).get(name)

    def iter(self, resource: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        buckets = self._objects.get(resource, {})
        if namespace is not None:
            yield from buckets.get(namespace, {}).values()
            return
        for bucket in buckets.values():
            yield from bucket.values()

    def count(self, resource: str, namespace: str | None = None) -> int:
        buckets = self._objects.get(resource, {})
        if namespace is not None:
            return len(buckets.get(namespace, {}))
        return sum(len(b) for b in buckets.values())

    def by_uid(self, uid: str) -> tuple[Key, dict[str, Any]] | None:
        key = self._uids.get(uid)
        if key is None:
            return None
        obj = self.get(*key)
        return (key, obj) if obj is not None else None

    def dependents(self, owner_uid: str) -> list[Key]:
        return sorted(self._dependents.get(owner_uid, ()))

    def resources(self) -> list[str]:
        return list(self._objects)

    # --- writes -----------------------------------------------------------------------------

    def put(self, resource: str, obj: dict[str, Any]) -> Event:
        """Store ``obj`` (taken over, not copied) with a new resourceVersion."""
        md = metadata(obj)
        ns, name = md.get("namespace", "") or "", md["name"]
        bucket = self._objects.setdefault(resource, {}).setdefault(ns, {})
        old = bucket.get(name)
        self.rv += 1
        md["resourceVersion"] = str(self.rv)
        bucket[name] = obj
        key = (resource, ns, name)
        self._reindex(key, old, obj)
        return self._emit(Event(self.rv, resource, "MODIFIED" if old else "ADDED", obj, old))

    def remove(self, resource: str, namespace: str, name: str) -> Event | None:
        bucket = self._objects.get(resource, {}).get(namespace or "", {})
        old = bucket.pop(name, None)
        if old is None:
            return None
        self.rv += 1
        gone = dict(old)
        gone["metadata"] = dict(metadata(old), resourceVersion=str(self.rv))
        self._reindex((resource, namespace or "", name), old, None)
        return self._emit(Event(self.rv, resource, "DELETED", gone, old))

    def _reindex(self, key: Key, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if old is not None:
            self._uids.pop(str(metadata(old).get("uid", "")), None)
            for uid in owner_uids(old):
                deps = self._dependents.get(uid)
                if deps is not None:
                    deps.discard(key)
                    if not deps:
                        del self._dependents[uid]
        if new is not None:
            new_uid = str(metadata(new).get("uid") or "")
            if new_uid:
                self._uids[new_uid] = key
            for owner in owner_uids(new):
                self._dependents.setdefault(owner, set()).add(key)

    def _emit(self, event: Event) -> Event:
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for sub in tuple(self._subscribers.get(event.resource, ())):
            sub.offer(event)
        for listener in tuple(self._listeners):
            listener(event)
        return event

    # --- watching ---------------------------------------------------------------------------

    def events_since(self, resource: str, rv: int) -> list[Event] | None:
        """Events of ``resource`` after ``rv``, oldest first; None if compacted away."""
        if rv < self.compacted_rv:
            return None
        out: list[Event] = []
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.resource == resource:
                out.append(ev)
        out.reverse()
        return out

    def subscribe(self, resource: str, sub: Subscriber) -> None:
        self._subscribers.setdefault(resource, set()).add(sub)

    def close_watches(self) -> None:
        """End every open watch (and any opened from now on) so servers can stop cleanly."""
        self.closing = True
        for subs in self._subscribers.values():
            for sub in tuple(subs):
                sub.close()

    def unsubscribe(self, resource: str, sub: Subscriber) -> None:
        subs = self._subscribers.get(resource)
        if subs is not None:
            subs.discard(sub)

    def add_listener(self, fn: Callable[[Event], None]) -> None:
        """``fn`` runs synchronously after every write (garbage collector, caches)."""
        self._listeners.append(fn)

    def drop_resource(self, resource: str) -> None:
        """Forget every object of a resource at once (its CRD is gone), without events."""
        for bucket in self._objects.pop(resource, {}).values():
            for name, obj in bucket.items():
                ns = str(metadata(obj).get("namespace") or "")
                self._reindex((resource, ns, name), obj, None)
