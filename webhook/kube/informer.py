"""Informers: a local cache of one kind kept current by list + watch, with event handlers.

``Informer(client, "apps/v1", "Deployment", namespace="", label_selector=...)`` lists (paged),
then watches from the list's ``resourceVersion`` with bookmarks on; when a stream ends it
re-watches from the last ``resourceVersion`` seen (an event's or a bookmark's); on ``410
Expired`` it lists again and tells the handlers what changed in between (objects that vanished
arrive as ``DELETED``); on other errors it backs off (capped) and retries. A kind the server does
not serve (CRD not installed) is logged once, left empty and marked synced; it is looked up again
every ``recheck`` seconds and followed as soon as it appears.

The cache is keyed by ``(namespace, name)`` and holds the JSON dicts as decoded, after
``transform`` (by default: drop ``metadata.managedFields`` and kubectl's last-applied annotation,
the bulk of most objects). Handlers and readers get those dicts: treat them as read-only.
Nothing is deep-copied and no typed model is built, so an event costs a ``json.loads`` and a
dict assignment.

Handlers are plain callables ``(type, obj, old)`` run on the event loop: ``type`` is
``ADDED``, ``MODIFIED`` or ``DELETED``; ``old`` is the cached object before the change (None for
``ADDED``). They must be quick (enqueue a key, e.g. into ``workqueue.WorkQueue``); an exception
in one is logged and does not stop the informer. Indexes (``add_index``) answer "which objects
have this owner uid" without a scan.

Typical use by the release loop::

    deployments = Informer(client, "apps/v1", "Deployment", label_selector="canarist.io/enabled")
    deployments.add_handler(lambda t, obj, old: queue.add(key_of(obj)))
    replica_sets = Informer(client, "apps/v1", "ReplicaSet")
    replica_sets.add_index("owner", owner_uids)
    await start_all([deployments, replica_sets])        # returns once every cache is synced
    ...
    await stop_all([deployments, replica_sets])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

from webhook.errors import Expired, KubeError, NotFound
from webhook.kube.client import KubeClient
from webhook.kube.protocol import JSON
from webhook.kube.watch import WatchEvent, WatchStream
from webhook.spec.names import LAST_APPLIED

log = logging.getLogger("canarist.kube.informer")

Key = tuple[str, str]  # (namespace, name)
Handler = Callable[[str, JSON, JSON | None], None]
IndexFn = Callable[[JSON], Iterable[str]]
Objects = list[JSON]  # (``Informer.list`` shadows the builtin inside the class)
Keys = list[Key]


def key_of(obj: JSON) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def strip_noise(obj: JSON) -> JSON:
    """Drop what no consumer reads and costs memory: managedFields, last-applied."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and ("managedFields" in meta or LAST_APPLIED in (
            meta.get("annotations") or {})):
        meta = dict(meta)
        meta.pop("managedFields", None)
        ann = meta.get("annotations")
        if isinstance(ann, dict) and LAST_APPLIED in ann:
            meta["annotations"] = {k: v for k, v in ann.items() if k != LAST_APPLIED}
        obj = dict(obj, metadata=meta)
    return obj


def owner_uids(obj: JSON) -> list[str]:
    """Index function: the uids of an object's owners."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return [str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")]


def diff(old: dict[Key, JSON], new: dict[Key, JSON]) -> list[tuple[str, JSON, JSON | None]]:
    """What handlers must hear when a relist replaces the cache ``old`` with ``new``."""
    out: list[tuple[str, JSON, JSON | None]] = []
    for key, obj in new.items():
        before = old.get(key)
        if before is None:
            out.append(("ADDED", obj, None))
        elif _rv(before) != _rv(obj):
            out.append(("MODIFIED", obj, before))
    out.extend(("DELETED", obj, obj) for key, obj in old.items() if key not in new)
    return out


def _rv(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Informer:
    def __init__(
        self,
        client: KubeClient,
        api_version: str,
        kind: str,
        *,
        namespace: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Callable[[JSON], JSON] = strip_noise,
        watch_timeout: int = 300,
        page_size: int = 500,
        recheck: float = 60.0,
        max_backoff: float = 30.0,
        bookmarks: bool = True,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.transform = transform
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.recheck = recheck
        self.max_backoff = max_backoff
        self.bookmarks = bookmarks
        self.resource_version = ""
        self.served: bool | None = None  # None until known
        self.last_error: KubeError | None = None  # why the last list or watch failed
        self.relists = 0  # lists after the first (410 or errors)
        self.rewatches = 0  # watches resumed from a resourceVersion
        self._cache: dict[Key, JSON] = {}
        self._handlers: list[Handler] = []
        self._index_fns: dict[str, IndexFn] = {}
        self._indexes: dict[str, dict[str, set[Key]]] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream: WatchStream | None = None

    def __repr__(self) -> str:
        scope = self.namespace or "all namespaces"
        return f"Informer({self.kind} {self.api_version} in {scope})"

    # --- reading the cache ----------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> JSON | None:
        return self._cache.get((namespace, name))

    def list(self, namespace: str | None = None) -> Objects:
        if namespace is None:
            return [*self._cache.values()]
        return [o for (ns, _), o in self._cache.items() if ns == namespace]

    def keys(self) -> Keys:
        return [*self._cache]

    def __len__(self) -> int:
        return len(self._cache)

    def add_index(self, name: str, fn: IndexFn) -> None:
        """Maintain ``name``: value -> keys of the objects ``fn`` maps to that value."""
        self._index_fns[name] = fn
        index: dict[str, set[Key]] = {}
        for key, obj in self._cache.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def by_index(self, name: str, value: str) -> Objects:
        keys = self._indexes.get(name, {}).get(value, ())
        return [self._cache[k] for k in keys if k in self._cache]

    def add_handler(self, handler: Handler, *, replay: bool = True) -> None:
        """Call ``handler`` for every change; with ``replay``, at once as ``ADDED`` for every
        object already cached."""
        self._handlers.append(handler)
        if replay:
            for obj in [*self._cache.values()]:
                self._call(handler, "ADDED", obj, None)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, within: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._synced.wait(), within)
        except TimeoutError:
            return False
        return True

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=repr(self))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if self._stream is not None:
            self._stream.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        announced = False
        while True:
            try:
                res = await self.client.resource(self.api_version, self.kind)
                if res is None:
                    if not announced:
                        log.info("%s %s is not served (CRD not installed?): skipping it, "
                                 "looking again every %.0fs", self.kind, self.api_version,
                                 self.recheck)
                        announced = True
                    self.served = False
                    self._replace({})
                    self._synced.set()
                    await asyncio.sleep(self.recheck)
                    self.client.sync.resolver.forget(self.api_version)
                    continue
                if announced:
                    log.info("%s %s is served now: following it", self.kind, self.api_version)
                    announced = False
                self.served = True
                await self._list()
                failures = 0
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Expired:
                log.info("%s: resourceVersion %s expired; listing again", self,
                         self.resource_version)
            except NotFound:  # the CRD went away between discovery and list
                self.client.sync.resolver.forget(self.api_version)
            except KubeError as exc:
                self.last_error = exc
                failures += 1
                delay = self._backoff(failures)
                log.warning("%s: %s; listing again in %.1fs", self, exc, delay)
                await asyncio.sleep(delay)
            self.relists += 1

    async def _list(self) -> None:
        items, rv = await self.client.list_all(
            self.api_version, self.kind, self.namespace, label_selector=self.label_selector,
            field_selector=self.field_selector, page_size=self.page_size,
        )
        self._replace({key_of(o): o for o in map(self.transform, items)})
        self.resource_version = rv
        self._synced.set()

    async def _follow(self) -> None:
        """Watch from the current resourceVersion, over and over; returns only by raising
        (``Expired`` -> relist; other errors after ``max_backoff``-capped retries)."""
        failures = 0
        res = await self.client.resource(self.api_version, self.kind)
        if res is None:
            raise NotFound(f"{self.kind} {self.api_version} is no longer served")
        while True:
            rv = self.resource_version

            def opener(rv: str = rv) -> Any:
                return self.client.sync.open_watch(
                    res, self.namespace, resource_version=rv,
                    label_selector=self.label_selector, field_selector=self.field_selector,
                    timeout_seconds=self.watch_timeout, bookmarks=self.bookmarks,
                )

            self._stream = WatchStream(opener, name=f"watch-{self.kind.lower()}")
            try:
                async for event in self._stream:
                    self._apply(event)
                failures = 0
            except Expired:
                raise
            except KubeError as exc:
                self.last_error = exc
                failures += 1
                if failures > 5:
                    raise
                delay = self._backoff(failures)
                log.info("%s: watch ended: %s; resuming from %s in %.1fs", self, exc,
                         self.resource_version, delay)
                await asyncio.sleep(delay)
            finally:
                self._stream.close()
                self._stream = None
            self.rewatches += 1

    def _backoff(self, failures: int) -> float:
        step = min(self.max_backoff, 0.2 * 2.0 ** (failures - 1))
        return step / 2 + random.random() * step / 2

    # --- applying changes -------------------------------------------------------------------------

    def _apply(self, event: WatchEvent) -> None:
        rv = event.resource_version
        if event.type == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        obj = self.transform(event.object)
        key = key_of(obj)
        if event.type == "DELETED":
            old = self._cache.pop(key, None)
            self._unindex(key, old)
            self._notify("DELETED", obj, old)
        else:
            old = self._cache.get(key)
            self._cache[key] = obj
            self._unindex(key, old)
            self._index(key, obj)
            self._notify("ADDED" if old is None else "MODIFIED", obj, old)
        if rv:
            self.resource_version = rv

    def _replace(self, new: dict[Key, JSON]) -> None:
        changes = diff(self._cache, new)
        self._cache = new
        for name, fn in self._index_fns.items():
            index: dict[str, set[Key]] = {}
            for key, obj in new.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)
            self._indexes[name] = index
        for etype, obj, old in changes:
            self._notify(etype, obj, old)

    def _index(self, key: Key, obj: JSON) -> None:
        for name, fn in self._index_fns.items():
            index = self._indexes.setdefault(name, {})
            for value in fn(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: Key, obj: JSON | None) -> None:
        if obj is None:
            return
        for name, fn in self._index_fns.items():
            index = self._indexes.get(name, {})
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _notify(self, etype: str, obj: JSON, old: JSON | None) -> None:
        for handler in self._handlers:
            self._call(handler, etype, obj, old)

    def _call(self, handler: Handler, etype: str, obj: JSON, old: JSON | None) -> None:
        try:
            handler(etype, obj, old)
        except Exception:
            log.exception("%s: handler %r failed on %s %s/%s", self, handler, etype, *key_of(obj))


async def start_all(informers: Iterable[Informer], within: float | None = 60.0) -> bool:
    """Start every informer; True once all caches are synced (False on timeout)."""
    informers = list(informers)
    for inf in informers:
        inf.start()
    results = await asyncio.gather(*(inf.wait_synced(within) for inf in informers))
    return all(results)


async def stop_all(informers: Iterable[Informer]) -> None:
    await asyncio.gather(*(inf.stop() for inf in informers))
