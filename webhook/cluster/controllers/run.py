"""Start the workload controllers on shared informers: Deployment, ReplicaSet,
EndpointSlice, Endpoints, Job (with the TTL-after-finished controller), CronJob and
disruption."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.cronjob_loop import CronJobController
from webhook.cluster.controllers.deployment_loop import DeploymentController
from webhook.cluster.controllers.disruption_loop import DisruptionController
from webhook.cluster.controllers.endpoints_loop import EndpointsController
from webhook.cluster.controllers.endpointslice_loop import EndpointSliceController
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.job_loop import JobController, TTLController
from webhook.cluster.controllers.replicaset_loop import ReplicaSetController

Controller = (DeploymentController | ReplicaSetController | EndpointSliceController
              | EndpointsController | JobController | TTLController | DisruptionController
              | CronJobController)


async def run_controllers(
    api: ClusterAPI,
    stop: asyncio.Event,
    *,
    clock: Callable[[], float] = time.time,
    ready: asyncio.Event | None = None,
) -> None:
    """Run every controller until ``stop`` is set; ``ready`` is set once the caches are synced.

    ``clock`` (epoch seconds) drives condition timestamps, minReadySeconds and progress
    deadlines, so tests can move time.
    """
    informers = Informers(api)
    controllers: list[Controller] = [
        DeploymentController(api, informers, clock),
        ReplicaSetController(api, informers, clock),
        EndpointSliceController(api, informers, clock),
        EndpointsController(api, informers, clock),
        JobController(api, informers, clock),
        TTLController(api, informers, clock),
        DisruptionController(api, informers, clock),
        CronJobController(api, informers, clock),
    ]
    tasks = [asyncio.create_task(inf.run(), name=f"informer {inf.resource}")
             for inf in informers.all()]
    try:
        await informers.wait_synced()
        tasks += [asyncio.create_task(c.run(), name=type(c).__name__) for c in controllers]
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
