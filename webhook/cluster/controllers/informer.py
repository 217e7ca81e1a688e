"""Informer caches fed by ``ClusterAPI.list`` + ``ClusterAPI.watch`` (client-go's reflector).

List, then watch from the list's resourceVersion; on a 410 ``Expired`` ERROR event or a closed
stream, list again and emit the differences. Handlers are plain callbacks (they enqueue keys);
cached objects are shared and must never be mutated.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from webhook.cluster.controllers.objects import controller_uid, meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]  # (event type, old, new)


class WatchAPI(Protocol):
    """The part of ``ClusterAPI`` an informer uses."""

    async def list(self, resource: str, namespace: str | None = None
                   ) -> tuple[list[Obj], str]: ...

    def watch(self, resource: str, namespace: str | None = None, *,
              resource_version: str | None = None, allow_bookmarks: bool = False
              ) -> Any: ...


class Informer:
    def __init__(self, api: WatchAPI, resource: str) -> None:
        self.api = api
        self.resource = resource
        self.synced = asyncio.Event()
        self._items: dict[str, dict[str, Obj]] = {}
        # controller uid (or "orphan/<namespace>") -> (namespace, name) -> object
        self._by_controller: dict[str, dict[tuple[str, str], Obj]] = {}
        self._handlers: list[Handler] = []

    # --- reads ---------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._items.get(namespace, {}).get(name)

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        if namespace is not None:
            return list(self._items.get(namespace, {}).values())
        return [o for bucket in self._items.values() for o in bucket.values()]

    def controlled_by(self, uid: str) -> builtins.list[Obj]:
        """Objects whose controller ownerReference has this uid (an index, not a scan)."""
        return list(self._by_controller.get(uid, {}).values())

    def orphans(self, namespace: str) -> builtins.list[Obj]:
        """Objects of the namespace without a controller ownerReference."""
        return list(self._by_controller.get(f"orphan/{namespace}", {}).values())

    def _index(self, obj: Obj, key: tuple[str, str], add: bool) -> None:
        owner = controller_uid(obj)
        slot = owner if owner is not None else f"orphan/{key[0]}"
        bucket = self._by_controller.setdefault(slot, {})
        if add:
            bucket[key] = obj
            return
        bucket.pop(key, None)
        if not bucket:
            del self._by_controller[slot]

    def namespaces(self) -> Iterable[str]:
        return list(self._items)

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    # --- feeding -------------------------------------------------------------------------------

    def _emit(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(etype, old, new)
            except Exception:  # a broken handler must not stop the cache
                log.exception("%s informer handler failed", self.resource)

    def apply(self, etype: str, obj: Obj) -> None:
        md = meta(obj)
        ns, name = str(md.get("namespace") or ""), str(md.get("name") or "")
        bucket = self._items.setdefault(ns, {})
        old = bucket.get(name)
        if old is not None:
            self._index(old, (ns, name), add=False)
        if etype == "DELETED":
            if old is not None:
                del bucket[name]
            if not bucket:
                del self._items[ns]
            self._emit("DELETED", old, obj)
            return
        bucket[name] = obj
        self._index(obj, (ns, name), add=True)
        self._emit("MODIFIED" if old is not None else "ADDED", old, obj)

    def replace(self, items: builtins.list[Obj]) -> None:
        """A relist: emit ADDED/MODIFIED for what is listed, DELETED for what vanished."""
        seen: set[tuple[str, str]] = set()
        for obj in items:
            md = meta(obj)
            key = (str(md.get("namespace") or ""), str(md.get("name") or ""))
            seen.add(key)
            old = self.get(*key)
            if old is None or meta(old).get("resourceVersion") != md.get("resourceVersion"):
                self.apply("MODIFIED", obj)
        for ns, bucket in list(self._items.items()):
            for name, obj in list(bucket.items()):
                if (ns, name) not in seen:
                    self.apply("DELETED", obj)

    async def run(self) -> None:
        """List and watch until cancelled."""
        delay = 0.05
        while True:
            try:
                items, rv = await self.api.list(self.resource)
                self.replace(items)
                self.synced.set()
                delay = 0.05
                async for event in self.api.watch(self.resource, resource_version=rv,
                                                  allow_bookmarks=True):
                    etype = event.get("type")
                    if etype == "ERROR":
                        break
                    if etype in ("ADDED", "MODIFIED", "DELETED"):
                        self.apply(str(etype), event["object"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s informer failed; relisting", self.resource)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


class Informers:
    """One shared informer per resource (a SharedInformerFactory)."""

    def __init__(self, api: WatchAPI) -> None:
        self.api = api
        self._by_resource: dict[str, Informer] = {}

    def of(self, resource: str) -> Informer:
        inf = self._by_resource.get(resource)
        if inf is None:
            inf = self._by_resource[resource] = Informer(self.api, resource)
        return inf

    def all(self) -> builtins.list[Informer]:
        return list(self._by_resource.values())

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.synced.wait() for inf in self.all()))
