"""The Endpoints controller loop: each Service's Endpoints follow its EndpointSlices.

A Service event or an event of a slice labelled with a Service's name syncs that Service; the
Endpoints are created, updated or deleted to match ``endpoints.desired``. It writes as
``endpoint-controller``, the only writer Endpoints accept besides namespace deletion.
"""

from __future__ import annotations

from collections.abc import Callable

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import endpoints as epc
from webhook.cluster.controllers.endpointslice import SERVICE_NAME_LABEL
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.objects import Key, Obj, key_of, labels_of, meta
from webhook.cluster.controllers.workqueue import (
    WorkQueue,
    enqueue_key,
    retry_on_conflict,
    run_workers,
)
from webhook.cluster.kinds.core import ENDPOINTS_WRITER

SLICES = "endpointslices.discovery.k8s.io"
WORKERS = 2


class EndpointsController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]
                 ) -> None:
        self.api = api
        self.services = informers.of("services")
        self.slices = informers.of(SLICES)
        self.endpoints = informers.of("endpoints")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.services.add_handler(enqueue_key(self.queue))
        self.slices.add_handler(self._on_slice)
        self.endpoints.add_handler(self._on_endpoints)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, WORKERS, "endpoints")

    def _on_slice(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        for obj in (old, new):
            service = labels_of(obj).get(SERVICE_NAME_LABEL) if obj is not None else None
            if obj is not None and service:
                self.queue.add((str(meta(obj).get("namespace") or ""), service))

    def _on_endpoints(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if etype == "DELETED" and old is not None:
            self.queue.add(key_of(old))

    async def sync(self, key: Key) -> None:
        ns, name = key
        service = self.services.get(ns, name)
        current = self.endpoints.get(ns, name)
        want = None
        if service is not None and not meta(service).get("deletionTimestamp"):
            want = epc.desired(service, self.slices.list(ns))
        with retry_on_conflict():
            if want is None:
                if current is not None:
                    await self.api.delete("endpoints", ns, name, user=ENDPOINTS_WRITER)
            elif current is None:
                await self.api.create("endpoints", ns, want, user=ENDPOINTS_WRITER)
            elif epc.differs(current, want):
                await self.api.update("endpoints", ns, epc.update_of(current, want),
                                      user=ENDPOINTS_WRITER)
