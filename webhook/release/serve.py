"""``canarist reconcile``: the reconcile loop as a process, with leader election and metrics.

- ``--leader-elect``: only the holder of the ``coordination.k8s.io`` Lease ``--lease-name``
  (default ``canarist-reconciler``, in ``--lease-namespace``, owned by the ``--lease-owner``
  Deployment) reconciles; the others wait. A leader that loses the Lease stops its
  loop and stands for election again, so two never act at once for longer than the lease.
- ``--metrics-address HOST:PORT``: ``/metrics`` (Prometheus text, ``webhook.release.metrics``)
  and ``/healthz`` (200 once the caches are synced, while this replica is running).
- SIGINT/SIGTERM: stop taking work, finish the reconcile in progress, release the Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import dataclass, field

from aiohttp import web

from webhook.errors import ConfigError, Problem
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.leader import LeaderElector, deployment_owner
from webhook.release.loop import LoopOptions, Reconciler
from webhook.release.metrics import Metrics

log = logging.getLogger("canarist.release")
LEASE_NAME = "canarist-reconciler"


@dataclass(frozen=True)
class ServeOptions:
    loop: LoopOptions = field(default_factory=LoopOptions)
    leader_elect: bool = False
    lease_namespace: str = "canarist-system"
    identity: str = ""
    metrics_address: str = ""  # "" = no metrics server
    lease_owner: str = ""  # Deployment (in lease_namespace) that owns the Lease
    lease_name: str = LEASE_NAME


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            [Problem("--metrics-address", f"must be HOST:PORT (port 0-65535), got {text!r}")]
        )
    return host.strip("[]") or "0.0.0.0", int(port)


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def serve_metrics(metrics: Metrics, address: str) -> web.AppRunner:
    host, port = parse_address(address)

    async def render(_: web.Request) -> web.Response:
        return web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", render)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    for bound in runner.addresses:
        log.info("metrics on http://%s:%s/metrics", *bound[:2])
    return runner


async def run(client: KubeClient, options: ServeOptions, stop: asyncio.Event) -> None:
    """Reconcile until ``stop`` is set (as the leader only, with ``leader_elect``)."""
    metrics = Metrics()
    runner = (
        await serve_metrics(metrics, options.metrics_address) if (options.metrics_address) else None
    )
    try:
        if not options.leader_elect:
            await Reconciler(client, options.loop, metrics=metrics).run(stop)
            return
        owner = None
        if options.lease_owner:
            owner = await deployment_owner(client, options.lease_namespace, options.lease_owner)
            if owner is None:
                log.warning("Deployment %s/%s not found: the Lease will have no owner",
                            options.lease_namespace, options.lease_owner)
        elector = LeaderElector(
            client,
            namespace=options.lease_namespace,
            name=options.lease_name,
            identity=options.identity or default_identity(),
            owners=(owner,) if owner else (),
        )
        while not stop.is_set():

            async def lead() -> None:
                await Reconciler(client, options.loop, metrics=metrics).run(stop)

            election = asyncio.ensure_future(elector.run(lead))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({election, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not election.done():
                await election  # the loop sees ``stop`` and returns; the Lease is released
            stopping.cancel()
            if election.result():
                log.warning("lost the lease; standing for election again")
    finally:
        if runner is not None:
            await runner.cleanup()


def run_reconcile(client_options: ClientOptions, options: ServeOptions) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with connect(client_options) as client:
            await run(client, options, stop)

    asyncio.run(main())
    return 0
