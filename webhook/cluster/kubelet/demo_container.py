"""Demo-app containers: one in-process aiohttp server per TCP container port, on the pod's
loopback address (cheap: no process, no namespace).

``bind_pod`` finds an address where every port of every demo container binds (an address
another cluster on this machine already uses answers EADDRINUSE, or EADDRNOTAVAIL when it is
routed to a pod's namespace, and the next one is tried).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.demo_app import DemoApp, DemoConfig

BIND_ATTEMPTS = 32
MAX_GRACE_SECONDS = 2.0  # the demo app stops at SIGTERM; in-flight requests get this long


def tcp_ports(container: Mapping[str, Any]) -> list[int]:
    return [int(p["containerPort"]) for p in container.get("ports") or ()
            if (p.get("protocol") or "TCP") == "TCP" and "containerPort" in p]


class DemoServers:
    """The servers of one demo container instance."""

    def __init__(self, app: DemoApp) -> None:
        self.app = app
        self._servers: list[tuple[web.Server, asyncio.Server]] = []

    async def listen(self, ip: str, ports: Sequence[int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            for port in ports:
                server = web.Server(self.app.handle, access_log=None)
                listener = await loop.create_server(server, ip, port, reuse_address=True)
                self._servers.append((server, listener))
        except OSError:
            await self.close(0)
            raise

    async def close(self, grace: float) -> None:
        grace = min(grace, MAX_GRACE_SECONDS)
        servers, self._servers = self._servers, []
        for _, listener in servers:
            listener.close()
        for server, listener in servers:
            with contextlib.suppress(Exception):
                await server.shutdown(grace)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), grace + 0.5)


def new_servers(config: DemoConfig, *, pod: str, namespace: str, ip: str,
                clock: Callable[[], float]) -> DemoServers:
    return DemoServers(DemoApp(config, pod=pod, namespace=namespace, ip=ip, clock=clock))


async def bind_pod(pool: AddressPool, containers: Sequence[tuple[DemoConfig, Sequence[int]]], *,
                   pod: str, namespace: str, clock: Callable[[], float]
                   ) -> tuple[str, list[DemoServers]]:
    """A fresh address with every demo container listening on it; ``OSError`` when none."""
    last: OSError | None = None
    for _ in range(BIND_ATTEMPTS):
        ip = pool.take()
        bound: list[DemoServers] = []
        try:
            for config, ports in containers:
                servers = new_servers(config, pod=pod, namespace=namespace, ip=ip, clock=clock)
                await servers.listen(ip, ports)
                bound.append(servers)
            return ip, bound
        except OSError as exc:
            for servers in bound:
                await servers.close(0)
            if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                pool.release(ip)
                raise
            # taken by another cluster on this machine (a socket on it, or a route to a pod's
            # namespace there): never hand it out
            last = exc
    raise OSError(errno.EADDRINUSE, "every address tried was in use") from last
