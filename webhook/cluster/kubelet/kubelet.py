"""The single node of the embedded cluster: it binds pending pods to itself (the scheduler's
part) and runs every pod bound to it.

A pod with a deletionTimestamp stops serving at once (the app got SIGTERM), in-flight requests
get the grace period capped at ``MAX_GRACE_SECONDS``, then the kubelet removes the object with
a final delete of grace 0, as upstream's status manager does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.informer import Informer, Obj
from webhook.cluster.controllers.objects import is_deleting, is_pod_terminal, meta
from webhook.cluster.controllers.workqueue import Retry, WorkQueue, run_workers
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.runner import PodRunner
from webhook.errors import APIStatusError

log = logging.getLogger(__name__)

NODE_NAME = "canarist-node"
USER = f"system:node:{NODE_NAME}"
MAX_GRACE_SECONDS = 2.0
WORKERS = 8

Key = tuple[str, str]


class Kubelet:
    def __init__(self, api: ClusterAPI, *, clock: Callable[[], float] = time.time,
                 pool: AddressPool | None = None, node_name: str = NODE_NAME) -> None:
        self.api = api
        self.clock = clock
        self.pool = pool or AddressPool()
        self.node_name = node_name
        self.pods = Informer(api, "pods")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.runners: dict[Key, PodRunner] = {}
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is not None:
            md = meta(obj)
            self.queue.add((str(md.get("namespace") or ""), str(md.get("name") or "")))

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        informer = asyncio.create_task(self.pods.run())
        workers: asyncio.Task[None] | None = None
        try:
            await self.pods.synced.wait()
            workers = asyncio.create_task(run_workers(self.queue, self.sync, WORKERS, "kubelet"))
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            for task in (informer, workers):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await asyncio.gather(*(r.stop(0) for r in self.runners.values()),
                                 return_exceptions=True)
            self.runners.clear()

    async def sync(self, key: Key) -> None:
        ns, name = key
        pod = self.pods.get(ns, name)
        runner = self.runners.get(key)
        if pod is None or (runner is not None and runner.uid != meta(pod).get("uid")):
            if runner is not None:
                del self.runners[key]
                await runner.stop(0)
            if pod is None:
                return
            runner = None
        node = (pod.get("spec") or {}).get("nodeName")
        if is_deleting(pod):
            if node == self.node_name or not node:
                await self._terminate(key, pod, runner)
            return
        if not node:
            await self._bind(pod)
            return
        if node != self.node_name or is_pod_terminal(pod):
            return
        if runner is None:
            runner = PodRunner(self.api, pod, self.pool, clock=self.clock, user=USER)
            self.runners[key] = runner
            await runner.start()
        else:
            runner.pod = pod

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

    async def _terminate(self, key: Key, pod: Obj, runner: PodRunner | None) -> None:
        md = meta(pod)
        grace = float(md.get("deletionGracePeriodSeconds") or 0)
        if runner is not None:
            self.runners.pop(key, None)
            await runner.stop(min(grace, MAX_GRACE_SECONDS))
        try:
            await self.api.delete("pods", key[0], key[1], grace_period_seconds=0,
                                  preconditions={"uid": md.get("uid")}, user=USER)
        except APIStatusError as exc:
            if exc.status not in (404, 409):
                raise

