"""The probe workers of one container instance (pkg/kubelet/prober/worker.go).

Each probe runs every ``periodSeconds`` after ``initialDelaySeconds``; readiness and liveness
wait until the startup probe (if any) succeeded, which then stops. Every failed run records an
``Unhealthy`` event (``Readiness probe failed: ...``). Readiness sets the container's
``ready``; a liveness or startup probe that reaches its failure threshold kills the container
(``Killing``: ``Container app failed liveness probe, will be restarted``), with the probe's
``terminationGracePeriodSeconds`` or the pod's, and the container restarts per its policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webhook.cluster.kubelet.probes import (
    ProbeSpec,
    failed,
    http_check,
    initial_state,
    observe,
    parse_probe,
    resolve_port,
    tcp_check,
)
from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.cluster.kubelet.container import ContainerRunner, Pod

KINDS = (("startup", "startupProbe"), ("readiness", "readinessProbe"),
         ("liveness", "livenessProbe"))


def _parse(container: Mapping[str, Any], field: str) -> ProbeSpec | None:
    try:
        return parse_probe(container.get(field), field)
    except InvalidInput:
        return None  # the API refuses such a probe; an old object's is ignored as upstream


class ProbeRunner:
    def __init__(self, pod: Pod, runner: ContainerRunner) -> None:
        self.pod = pod
        self.runner = runner
        self.specs = {kind: _parse(runner.spec, field) for kind, field in KINDS}
        self.started = self.specs["startup"] is None
        self._started = asyncio.Event()
        if self.started:
            self._started.set()
        self._tasks: list[asyncio.Task[None]] = []

    def has_readiness(self) -> bool:
        return self.specs["readiness"] is not None

    def start(self) -> None:
        for kind, spec in self.specs.items():
            if spec is not None:
                self._tasks.append(asyncio.create_task(self._loop(kind, spec)))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _grace(self, spec: ProbeSpec) -> float:
        if spec.termination_grace is not None:
            return spec.termination_grace
        return float((self.pod.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def _loop(self, kind: str, spec: ProbeSpec) -> None:
        await asyncio.sleep(spec.initial_delay)
        if kind != "startup":
            await self._started.wait()
        state = initial_state(kind)
        while True:
            ok, message = await self.once(spec)
            if not ok:
                self.pod.event("Warning", "Unhealthy",
                               f"{kind.capitalize()} probe failed: {message}", self.runner.path)
            new = observe(state, ok, spec)
            if kind == "readiness" and new.ready != state.ready:
                self.runner.update(ready=new.ready)
            if kind == "startup" and new.ready:
                self.started = True
                self._started.set()
                self.runner.update(started=True, ready=not self.has_readiness())
                return
            if kind in ("liveness", "startup") and failed(new, spec):
                me = asyncio.current_task()
                self._tasks = [t for t in self._tasks if t is not me]  # not cancelled by stop
                await self.runner.kill_for_probe(kind, self._grace(spec))
                return
            state = new
            await asyncio.sleep(spec.period)

    async def once(self, spec: ProbeSpec) -> tuple[bool, str]:
        if spec.kind == "exec":
            from webhook.cluster.kubelet.container_start import exec_in

            return await exec_in(self.pod, self.runner, spec.command, spec.timeout)
        if spec.kind == "grpc":
            return False, "grpc probes are not supported by the embedded cluster's node"
        port = resolve_port(spec.port, self.runner.spec)
        if port is None:
            return False, f"port {spec.port!r} not found in the container's ports"
        host = spec.host or self.pod.ip
        if spec.kind == "tcpSocket":
            return await tcp_check(host, port, spec)
        return await http_check(host, port, spec)
