"""One running pod: its loopback address, a demo-app server per container port, readiness
probes, and the status writes that report all of it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from aiohttp import web

from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.demo_app import DemoApp, demo_config
from webhook.cluster.kubelet.pod_status import ContainerState, pod_status
from webhook.cluster.kubelet.probes import (
    ProbeSpec,
    ProbeState,
    http_probe,
    observe,
    parse_probe,
    resolve_port,
    tcp_probe,
)
from webhook.errors import APIStatusError, InvalidInput

log = logging.getLogger(__name__)

BIND_ATTEMPTS = 32


class StatusAPI(Protocol):
    async def patch(self, resource: str, namespace: str | None, name: str, patch: Any,
                    patch_type: str, *, subresource: str | None = None,
                    user: str = ...) -> dict[str, Any]: ...


class PodRunner:
    def __init__(self, api: StatusAPI, pod: Mapping[str, Any], pool: AddressPool, *,
                 clock: Callable[[], float], user: str) -> None:
        md = pod.get("metadata") or {}
        self.api = api
        self.pod = pod
        self.pool = pool
        self.clock = clock
        self.user = user
        self.namespace = str(md.get("namespace") or "")
        self.name = str(md.get("name") or "")
        self.uid = str(md.get("uid") or "")
        self.ip = ""
        self.started = clock()
        self.containers: dict[str, ContainerState] = {}
        self._servers: list[tuple[web.Server, asyncio.Server]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._write_lock = asyncio.Lock()
        self.stopped = False

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.pod.get("spec") or {}

    # --- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        specs = list(self.spec.get("containers") or ())
        for c in specs:
            self.containers[str(c.get("name"))] = ContainerState(
                str(c.get("name")), str(c.get("image") or ""))
        try:
            apps = [demo_config(c, f"spec.containers[{i}]") for i, c in enumerate(specs)]
        except InvalidInput as exc:
            for name, state in self.containers.items():
                self.containers[name] = replace(state, waiting_reason="CreateContainerConfigError",
                                                waiting_message=str(exc))
            await self.write_status()
            return
        error = await self._listen(specs, apps)
        now = self.clock()
        probes: list[tuple[Mapping[str, Any], ProbeSpec]] = []
        for i, c in enumerate(specs):
            name = str(c.get("name"))
            if error is not None:
                self.containers[name] = replace(self.containers[name],
                                                waiting_reason="RunContainerError",
                                                waiting_message=error)
                continue
            probe = parse_probe(c.get("readinessProbe"), f"spec.containers[{i}].readinessProbe")
            self.containers[name] = replace(self.containers[name], running_since=now,
                                            ready=probe is None)
            if probe is not None:
                probes.append((c, probe))
        await self.write_status()
        for container, probe in probes:
            self._tasks.append(asyncio.create_task(self._probe_loop(container, probe)))

    async def _listen(self, specs: list[Mapping[str, Any]], apps: list[Any]) -> str | None:
        """Bind every TCP container port on one fresh address; EADDRINUSE moves to the next."""
        loop = asyncio.get_running_loop()
        for _ in range(BIND_ATTEMPTS):
            self.ip = self.pool.take()
            try:
                for container, cfg in zip(specs, apps, strict=True):
                    app = DemoApp(cfg, pod=self.name, namespace=self.namespace, ip=self.ip,
                                  clock=self.clock)
                    for port in container.get("ports") or ():
                        if (port.get("protocol") or "TCP") != "TCP":
                            continue
                        server = web.Server(app.handle, access_log=None)
                        listener = await loop.create_server(
                            server, self.ip, int(port["containerPort"]), reuse_address=True)
                        self._servers.append((server, listener))
                return None
            except OSError as exc:
                await self._close_servers(0)
                if exc.errno != errno.EADDRINUSE:
                    self.pool.release(self.ip)
                    self.ip = ""
                    return f"cannot listen: {exc.strerror or exc}"
                self.ip = ""  # taken by another cluster on this machine: never hand it out
        return "cannot listen: every address tried was in use"

    # --- probes --------------------------------------------------------------------------------

    async def _probe_once(self, container: Mapping[str, Any], spec: ProbeSpec) -> bool:
        if spec.kind in ("exec", "grpc"):
            return True  # nothing to execute in a demo pod: the command is taken as passing
        port = resolve_port(spec.port, container)
        if port is None:
            return False
        host = spec.host or self.ip
        if spec.kind == "tcpSocket":
            return await tcp_probe(host, port, spec)
        if spec.scheme.upper() != "HTTP":
            return False
        return await http_probe(host, port, spec)

    async def _probe_loop(self, container: Mapping[str, Any], spec: ProbeSpec) -> None:
        name = str(container.get("name"))
        await asyncio.sleep(spec.initial_delay)
        state = ProbeState()
        while not self.stopped:
            ok = await self._probe_once(container, spec)
            new = observe(state, ok, spec)
            if new.ready != state.ready:
                self.containers[name] = replace(self.containers[name], ready=new.ready)
                await self.write_status()
            state = new
            await asyncio.sleep(spec.period)

    # --- status --------------------------------------------------------------------------------

    async def write_status(self) -> None:
        if self.stopped:
            return
        async with self._write_lock:
            status = pod_status(self.pod, list(self.containers.values()), pod_ip=self.ip,
                                host_ip=self.pool.host_ip, started=self.started,
                                now=self.clock())
            try:
                out = await self.api.patch(
                    "pods", self.namespace, self.name,
                    {"metadata": {"uid": self.uid}, "status": status}, "merge",
                    subresource="status", user=self.user)
                self.pod = out
            except APIStatusError as exc:
                log.debug("status of pod %s/%s not written: %s", self.namespace, self.name, exc)

    # --- stop ----------------------------------------------------------------------------------

    async def stop(self, grace: float = 0.0) -> None:
        """Stop serving at once; in-flight requests get up to ``grace`` seconds."""
        self.stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_servers(grace)
        if self.ip:
            self.pool.release(self.ip)

    async def _close_servers(self, grace: float) -> None:
        servers, self._servers = self._servers, []
        for _, listener in servers:
            listener.close()
        for server, listener in servers:
            with contextlib.suppress(Exception):
                await server.shutdown(grace)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), grace + 0.5)
