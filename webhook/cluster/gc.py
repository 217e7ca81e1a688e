"""The garbage collector and the namespace cleaner (kube-controller-manager's, in-process).

Upstream behaviour (k8s-semantics §3.10, pkg/controller/garbagecollector):
- an object whose owners (by uid) are all gone is deleted, with the propagation its own
  finalizers ask for (``orphan`` -> Orphan, ``foregroundDeletion`` -> Foreground, else
  Background); owners that still exist keep it, and dangling references next to a live owner
  are removed;
- an owner being deleted with the ``orphan`` finalizer has its uid removed from every
  dependent's ownerReferences, then loses the finalizer (and so goes);
- an owner with ``foregroundDeletion`` gets its dependents deleted first and loses the
  finalizer once no dependent with ``blockOwnerDeletion: true`` remains;
- a namespace being deleted is emptied, then removed (the ``kubernetes`` finalizer).

Work is queued from store events and done on the event loop through ``ClusterAPI`` (so it
goes through admission like upstream's deletes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from webhook.cluster.meta import metadata, owner_uids
from webhook.cluster.store import Event, Key
from webhook.errors import APIStatusError

if TYPE_CHECKING:
    from webhook.cluster.api import ClusterAPI

log = logging.getLogger(__name__)
GC_USER = "system:serviceaccount:kube-system:generic-garbage-collector"
NS_USER = "system:serviceaccount:kube-system:namespace-controller"
Work = tuple[str, Any]


class GarbageCollector:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self.queue: asyncio.Queue[Work] = asyncio.Queue()
        self.idle = asyncio.Event()
        api.store.add_listener(self._on_event)

    # --- event intake (synchronous, called by the store on every write) ----------------------

    def _on_event(self, ev: Event) -> None:
        md = metadata(ev.obj)
        uid = str(md.get("uid", ""))
        if ev.type == "DELETED":
            self._put(("owner-gone", uid))
            for owner in owner_uids(ev.obj):
                self._put(("owner-check", owner))
            ns = md.get("namespace")
            if ns:
                self._put(("namespace", ns))
            return
        fins = md.get("finalizers") or []
        if md.get("deletionTimestamp") and ("orphan" in fins or "foregroundDeletion" in fins):
            self._put(("owner-check", uid))
        if ev.resource == "namespaces" and md.get("deletionTimestamp"):
            self._put(("namespace", md["name"]))
        if ev.type == "ADDED" and md.get("ownerReferences"):
            self._put(("dependent", (ev.resource, md.get("namespace", "") or "", md["name"])))

    def _put(self, work: Work) -> None:
        self.idle.clear()
        self.queue.put_nowait(work)

    # --- the worker --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if self.queue.empty():
                    self.idle.set()
                getter = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({getter, stopper},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                try:
                    await self._process(getter.result())
                except APIStatusError as exc:
                    if exc.status == 409:
                        self.queue.put_nowait(getter.result())  # retry on a fresh read
                    elif exc.status != 404:
                        log.warning("garbage collector: %s", exc)
        finally:
            stopper.cancel()

    async def _process(self, work: Work) -> None:
        kind, arg = work
        if kind == "owner-gone":
            for key in self.api.store.dependents(arg):
                await self._check_dependent(key)
        elif kind == "dependent":
            await self._check_dependent(arg)
        elif kind == "owner-check":
            await self._finalize_owner(arg)
        elif kind == "namespace":
            await self._clean_namespace(arg)

    def _owner_state(self, uid: str) -> str:
        found = self.api.store.by_uid(uid)
        if found is None:
            return "dangling"
        md = metadata(found[1])
        if md.get("deletionTimestamp") and "foregroundDeletion" in (md.get("finalizers") or []):
            return "waiting"
        return "solid"

    async def _check_dependent(self, key: Key) -> None:
        obj = self.api.store.get(*key)
        if obj is None:
            return
        md = metadata(obj)
        refs = md.get("ownerReferences") or []
        if not refs:
            return
        states = {str(r.get("uid")): self._owner_state(str(r.get("uid"))) for r in refs}
        if "solid" in states.values():
            dangling = [u for u, s in states.items() if s == "dangling"]
            if dangling:
                await self._drop_refs(key, obj, set(dangling))
            return
        if md.get("deletionTimestamp"):
            return
        fins = md.get("finalizers") or []
        if "orphan" in fins:
            policy = "Orphan"
        elif "foregroundDeletion" in fins or (
            "waiting" in states.values() and self.api.store.dependents(str(md.get("uid")))
        ):
            policy = "Foreground"
        else:
            policy = "Background"
        await self.api.delete(self._resource(key), key[1] or None, key[2],
                              propagation_policy=policy, preconditions={"uid": md.get("uid")},
                              user=GC_USER)

    async def _drop_refs(self, key: Key, obj: dict[str, Any], uids: set[str]) -> None:
        refs = [r for r in metadata(obj).get("ownerReferences") or []
                if str(r.get("uid")) not in uids]
        patch = {"metadata": {"ownerReferences": refs or None,
                              "resourceVersion": metadata(obj).get("resourceVersion")}}
        await self.api.patch(self._resource(key), key[1] or None, key[2], patch, "merge",
                             user=GC_USER)

    async def _finalize_owner(self, uid: str) -> None:
        found = self.api.store.by_uid(uid)
        if found is None:
            return
        key, owner = found
        md = metadata(owner)
        fins = list(md.get("finalizers") or [])
        if not md.get("deletionTimestamp"):
            return
        deps = self.api.store.dependents(uid)
        if "orphan" in fins:
            for dep in deps:
                obj = self.api.store.get(*dep)
                if obj is not None:
                    await self._drop_refs(dep, obj, {uid})
            await self._remove_finalizer(key, owner, "orphan")
        elif "foregroundDeletion" in fins:
            blocking = False
            for dep in deps:
                obj = self.api.store.get(*dep)
                if obj is None:
                    continue
                ref = next(r for r in metadata(obj).get("ownerReferences") or []
                           if str(r.get("uid")) == uid)
                blocking = blocking or bool(ref.get("blockOwnerDeletion"))
                await self._check_dependent(dep)
            if not blocking:
                await self._remove_finalizer(key, owner, "foregroundDeletion")

    async def _remove_finalizer(self, key: Key, owner: dict[str, Any], name: str) -> None:
        md = metadata(owner)
        fins = [f for f in md.get("finalizers") or [] if f != name]
        patch = {"metadata": {"finalizers": fins or None,
                              "resourceVersion": md.get("resourceVersion")}}
        await self.api.patch(self._resource(key), key[1] or None, key[2], patch, "merge",
                             user=GC_USER)

    def _resource(self, key: Key) -> str:
        return key[0]

    async def _clean_namespace(self, ns: str) -> None:
        store = self.api.store
        nso = store.get("namespaces", "", ns)
        if nso is None or not metadata(nso).get("deletionTimestamp"):
            return
        left = 0
        for rt in self.api.registry.all():
            if not rt.namespaced:
                continue
            for obj in list(store.iter(rt.key, ns)):
                left += 1
                if metadata(obj).get("deletionTimestamp"):
                    continue
                with contextlib.suppress(APIStatusError):
                    await self.api.delete(rt.key, ns, metadata(obj)["name"], user=NS_USER)
        if left == 0 or not any(store.count(rt.key, ns) for rt in self.api.registry.all()
                                if rt.namespaced):
            self.api.commit_removal(self.api.resolve("namespaces")[0], "", ns)

    async def wait_idle(self) -> None:
        """Until the queue is drained (callers bound it with asyncio.timeout)."""
        await self.idle.wait()
