"""The embedded cluster's controllers: Deployment, ReplicaSet, EndpointSlice, Endpoints, Job
(and TTL-after-finished) and disruption (PodDisruptionBudget status).

Entry point for the runtime (stable)::

    from webhook.cluster.controllers import run_controllers
    await run_controllers(api, stop, clock=time.time, ready=None)

``api`` is the in-process ``ClusterAPI``; the controllers never use HTTP. They watch through
shared informers, write through the same admission/validation path as HTTP clients (status via
the status subresource, as upstream) and record Events. ``stop`` (an ``asyncio.Event``) ends
them; ``ready`` is set once their caches are synced.

The decisions live in pure modules (``deployment/``, ``replicaset``, ``endpointslice``), tested
with tables; the ``*_loop`` modules only read caches, call them and write the result.
"""

from webhook.cluster.controllers.run import run_controllers

__all__ = ["run_controllers"]
