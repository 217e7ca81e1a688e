"""The EndpointSlice controller loop (endpointslice_controller.go).

A Service event, or a pod event that changes what an endpoint shows (labels, IP, readiness,
termination, ports), enqueues every Service of the namespace selecting the pod. Slices this
controller created or deleted are tracked until the informer sees the change, so a quick second
sync never creates a duplicate (upstream's ``endpointSliceTracker``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import endpointslice as eps
from webhook.cluster.controllers.informer import Informers, Obj
from webhook.cluster.controllers.objects import (
    Key,
    is_deleting,
    is_pod_ready,
    key_of,
    labels_of,
    map_selector_matches,
    meta,
    name_of,
    pod_ip,
    pod_phase,
)
from webhook.cluster.controllers.workqueue import (
    Retry,
    WorkQueue,
    enqueue_key,
    retry_on_conflict,
    run_workers,
)
from webhook.errors import APIStatusError

SLICES = "endpointslices.discovery.k8s.io"
USER = "system:serviceaccount:kube-system:endpointslice-controller"
WORKERS = 5


def _endpoint_view(pod: Obj) -> tuple[Any, ...]:
    """What of a pod can change its endpoint (``podEndpointsChanged`` and membership)."""
    containers = (pod.get("spec") or {}).get("containers") or ()
    ports = [tuple(sorted((p.get("name") or "", p.get("containerPort"), p.get("protocol") or "")
                          for p in c.get("ports") or ())) for c in containers]
    return (labels_of(pod), pod_ip(pod), is_pod_ready(pod), is_deleting(pod), pod_phase(pod),
            (pod.get("spec") or {}).get("nodeName"), ports)


class EndpointSliceController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]) -> None:
        self.api = api
        self.clock = clock
        self.services = informers.of("services")
        self.pods = informers.of("pods")
        self.slices = informers.of(SLICES)
        self.queue: WorkQueue[Key] = WorkQueue()
        # service key -> (slice names created and not yet seen, names deleted and still seen)
        self._pending: dict[Key, tuple[set[str], set[str]]] = {}
        self.services.add_handler(enqueue_key(self.queue))
        self.pods.add_handler(self._on_pod)
        self.slices.add_handler(self._on_slice)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, WORKERS, "endpointslice")

    # --- event handlers ------------------------------------------------------------------------

    def _services_for(self, pod: Obj) -> list[Obj]:
        ns = str(meta(pod).get("namespace") or "")
        labels = labels_of(pod)
        out = []
        for svc in self.services.list(ns):
            selector = eps.service_selector(svc)
            if selector is not None and map_selector_matches(selector, labels):
                out.append(svc)
        return out

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if etype == "MODIFIED" and old is not None and new is not None and (
                _endpoint_view(old) == _endpoint_view(new)):
            return
        keys: set[Key] = set()
        for obj in (old, new):
            if obj is not None:
                keys.update(key_of(s) for s in self._services_for(obj))
        for key in keys:
            self.queue.add(key)

    def _on_slice(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is None:
            return
        service = labels_of(obj).get(eps.SERVICE_NAME_LABEL)
        if not service or labels_of(obj).get(eps.MANAGED_BY_LABEL) != eps.CONTROLLER_NAME:
            return
        key = (str(meta(obj).get("namespace") or ""), service)
        pending = self._pending.get(key)
        if pending is not None:
            created, deleted = pending
            if etype == "DELETED":
                deleted.discard(name_of(obj))
            else:
                created.discard(name_of(obj))
        self.queue.add(key)

    # --- sync ----------------------------------------------------------------------------------

    def _stale(self, key: Key) -> bool:
        pending = self._pending.get(key)
        if pending is None:
            return False
        created, deleted = pending
        ns = key[0]
        created.difference_update({n for n in created if self.slices.get(ns, n) is not None})
        deleted.difference_update({n for n in deleted if self.slices.get(ns, n) is None})
        if created or deleted:
            return True
        del self._pending[key]
        return False

    async def sync(self, key: Key) -> None:
        ns, name = key
        svc = self.services.get(ns, name)
        if svc is None or is_deleting(svc):
            self._pending.pop(key, None)
            return
        if self._stale(key):
            raise Retry()
        existing = [s for s in self.slices.list(ns)
                    if labels_of(s).get(eps.SERVICE_NAME_LABEL) == name]
        changes = eps.reconcile(svc, self.pods.list(ns), existing)
        if changes.empty:
            return
        created: set[str] = set()
        deleted: set[str] = set()
        self._pending[key] = (created, deleted)
        with retry_on_conflict():
            for body in changes.create:
                out = await self.api.create(SLICES, ns, body, user=USER)
                created.add(name_of(out))
            for body in changes.update:
                await self.api.update(SLICES, ns, body, user=USER)
            for slice_name in changes.delete:
                try:
                    await self.api.delete(SLICES, ns, slice_name, user=USER)
                except APIStatusError as exc:
                    if exc.status != 404:
                        raise
                deleted.add(slice_name)
