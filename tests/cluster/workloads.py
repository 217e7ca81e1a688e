"""The workload side of the embedded cluster on the test's own loop: the Deployment, ReplicaSet
and EndpointSlice controllers, the kubelet and the garbage collector, on an in-process API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import run_controllers
from webhook.cluster.gc import GarbageCollector
from webhook.cluster.kubelet import run_kubelet
from webhook.tls.issue import issue_ca

API = TypeVar("API", bound=ClusterAPI)


def with_root_ca(api: API) -> API:
    """Publish a cluster CA, as ``canarist up`` does: every namespace gets its
    ``kube-root-ca.crt``, which the ServiceAccount token volume of every pod mounts (without it
    a kubelet keeps pods in ContainerCreating, FailedMount)."""
    api.auth.publish_root_ca(issue_ca(now=dt.datetime.now(dt.UTC), days=1).cert_pem)
    return api


@contextlib.asynccontextmanager
async def running_workloads(
    api: ClusterAPI, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[None]:
    """Start them, wait until they are ready, and stop them (bounded) on the way out."""
    with_root_ca(api)
    stop = asyncio.Event()
    ready = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(run_controllers(api, stop, clock=clock, ready=ready[0])),
             asyncio.create_task(run_kubelet(api, stop, clock=clock, ready=ready[1])),
             asyncio.create_task(GarbageCollector(api).run(stop))]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
        yield
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
