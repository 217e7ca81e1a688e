"""The single node of the embedded cluster: it binds pending pods to itself (the scheduler's
part, with its ``Scheduled`` event) and runs every pod bound to it (``PodWorker``).

A pod with a deletionTimestamp has its containers stopped — SIGTERM, then SIGKILL once its
grace period is over (the demo app stops at once and gives requests in flight at most 2 s) —
then the kubelet removes the object with a final delete of grace 0, as upstream's status
manager does. The node serves the API server's ``pods/log`` (``container_log``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from webhook.cluster import status as st
from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.informer import Informer, Obj
from webhook.cluster.controllers.objects import is_deleting, is_pod_terminal, meta
from webhook.cluster.controllers.workqueue import Retry, WorkQueue, run_workers
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.config import NodeConfig
from webhook.cluster.kubelet.logs import InstanceLog
from webhook.cluster.kubelet.node import NODE_NAME, USER, NodeContext
from webhook.cluster.kubelet.pod_worker import PodWorker
from webhook.cluster.kubelet.volumes import referenced
from webhook.errors import APIStatusError

log = logging.getLogger(__name__)

WORKERS = 8

Key = tuple[str, str]

__all__ = ["NODE_NAME", "USER", "Kubelet"]


class Kubelet:
    def __init__(self, api: ClusterAPI, *, clock: Callable[[], float] = time.time,
                 pool: AddressPool | None = None, node_name: str = NODE_NAME,
                 config: NodeConfig | None = None) -> None:
        config = config or NodeConfig()
        if pool is not None:
            config = NodeConfig(**{**config.__dict__, "pool": pool})
        self.api = api
        self.node = NodeContext(api, config, clock=clock, node_name=node_name)
        self.clock = clock
        self.pool = self.node.pool
        self.node_name = node_name
        self.pods = Informer(api, "pods")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.workers: dict[Key, PodWorker] = {}
        self.pods.add_handler(self._on_pod)
        self.node.secrets.add_handler(self._on_object("secret"))
        self.node.configmaps.add_handler(self._on_object("configmap"))

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is not None:
            md = meta(obj)
            self.queue.add((str(md.get("namespace") or ""), str(md.get("name") or "")))

    def _on_object(self, kind: str) -> Callable[[str, Obj | None, Obj | None], None]:
        def handle(etype: str, old: Obj | None, new: Obj | None) -> None:
            obj = new or old
            if obj is None:
                return
            md = meta(obj)
            ns, name = str(md.get("namespace") or ""), str(md.get("name") or "")
            for (wns, _), worker in self.workers.items():
                if wns == ns and self._reads(worker, kind, name):
                    worker.poke()
        return handle

    @staticmethod
    def _reads(worker: PodWorker, kind: str, name: str) -> bool:
        spec = worker.pod.get("spec") or {}
        secrets, configmaps = referenced(spec.get("volumes"))
        if name in (secrets if kind == "secret" else configmaps):
            return True
        for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            for src in c.get("envFrom") or ():
                ref = src.get("secretRef" if kind == "secret" else "configMapRef") or {}
                if ref.get("name") == name:
                    return True
            for var in c.get("env") or ():
                ref = (var.get("valueFrom") or {}).get(
                    "secretKeyRef" if kind == "secret" else "configMapKeyRef") or {}
                if ref.get("name") == name:
                    return True
        return False

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        informers = [self.pods, self.node.secrets, self.node.configmaps, self.node.services]
        tasks = [asyncio.create_task(i.run()) for i in informers]
        workers: asyncio.Task[None] | None = None
        try:
            await asyncio.gather(*(i.synced.wait() for i in informers))
            self.api.node = self
            workers = asyncio.create_task(run_workers(self.queue, self.sync, WORKERS, "kubelet"))
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            if self.api.node is self:
                self.api.node = None
            for task in [*tasks, workers]:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await asyncio.gather(*(w.terminate(0) for w in self.workers.values()),
                                 return_exceptions=True)
            self.workers.clear()
            await self.node.events.close()
            await self.node.scheduler_events.close()
            if self.node.state is not None:
                self.node.state.close()

    async def sync(self, key: Key) -> None:
        ns, name = key
        pod = self.pods.get(ns, name)
        worker = self.workers.get(key)
        if pod is None or (worker is not None and worker.uid != meta(pod).get("uid")):
            if worker is not None:
                del self.workers[key]
                await worker.terminate(0)
            if pod is None:
                return
            worker = None
        node = (pod.get("spec") or {}).get("nodeName")
        if is_deleting(pod):
            if node == self.node_name or not node:
                await self._terminate(key, pod, worker)
            return
        if not node:
            await self._bind(pod)
            return
        if node != self.node_name or (worker is None and is_pod_terminal(pod)):
            return
        if worker is None:
            worker = PodWorker(self.node, pod)
            self.workers[key] = worker
            await worker.start()
        else:
            worker.update(pod)

    async def _bind(self, pod: Obj) -> None:
        """The scheduler's part: ``POST pods/NAME/binding`` to this node."""
        md = meta(pod)
        binding: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": md.get("name"), "namespace": md.get("namespace"),
                         "uid": md.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}}
        try:
            await self.api.create("pods", str(md.get("namespace")), binding,
                                  subresource="binding", name=str(md.get("name")),
                                  user="system:kube-scheduler")
        except APIStatusError as exc:
            if exc.status in (404, 409):
                return
            raise Retry() from exc
        self.node.scheduler_events.record(
            pod, "Normal", "Scheduled",
            f"Successfully assigned {md.get('namespace')}/{md.get('name')} to {self.node_name}")

    async def _terminate(self, key: Key, pod: Obj, worker: PodWorker | None) -> None:
        md = meta(pod)
        grace = float(md.get("deletionGracePeriodSeconds") or 0)
        if worker is not None:
            self.workers.pop(key, None)
            await worker.terminate(grace)
        try:
            await self.api.delete("pods", key[0], key[1], grace_period_seconds=0,
                                  preconditions={"uid": md.get("uid")}, user=USER)
        except APIStatusError as exc:
            if exc.status not in (404, 409):
                raise

    # --- served to the API server -------------------------------------------------------------

    def container_log(self, namespace: str, pod: str, container: str,
                      previous: bool) -> InstanceLog:
        """The log ``kubectl logs`` reads, or the kubelet's 400 saying why there is none."""
        worker = self.workers.get((namespace, pod))
        runner = worker.runner(container) if worker is not None else None
        if worker is None or runner is None:
            raise st.bad_request(f'container "{container}" in pod "{pod}" is not available')
        found = worker.container_log(container, previous)
        if found is not None:
            return found
        if previous:
            raise st.bad_request(f'previous terminated container "{container}" in pod "{pod}" '
                                 "not found")
        raise st.bad_request(f'container "{container}" in pod "{pod}" is waiting to start: '
                             f"{runner.state.waiting_reason}")
