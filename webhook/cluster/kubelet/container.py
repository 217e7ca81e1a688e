"""One container of a pod through its whole life, as the kubelet's runtime manager drives it.

Start (image check, configuration, process or demo servers), the events of each step, probes,
exit (``Completed``/``Error`` with the exit code), restart per ``restartPolicy`` with the
crash-loop back-off (``CrashLoopBackOff``), kills by a failed liveness or startup probe, and
the stop at deletion. Each state change updates ``state`` and asks the pod to write its status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from webhook.cluster.kubelet.backoff import format_duration
from webhook.cluster.kubelet.container_start import Instance, StartFailure, start_instance
from webhook.cluster.kubelet.demo_container import DemoServers
from webhook.cluster.kubelet.events import container_path
from webhook.cluster.kubelet.images import ImageKind, unrunnable_message
from webhook.cluster.kubelet.logs import ContainerLogs
from webhook.cluster.kubelet.node import NodeContext
from webhook.cluster.kubelet.pod_status import ContainerState, Terminated, container_id
from webhook.cluster.kubelet.probe_loop import ProbeRunner

RETRY_CONFIG = 10.0  # a configuration error is retried this often (or when objects change)
TERMINATION_LOG_LINES = 80
TERMINATION_LOG_BYTES = 2048


class Pod(Protocol):
    node: NodeContext
    uid: str
    namespace: str
    name: str
    ip: str
    stopping: bool

    @property
    def pod(self) -> Mapping[str, Any]: ...
    @property
    def restart_policy(self) -> str: ...
    def mark_dirty(self) -> None: ...
    def event(self, etype: str, reason: str, message: str, field_path: str = "") -> None: ...
    async def wait_change(self, seconds: float) -> None: ...
    def take_demo_servers(self, container: str) -> DemoServers | None: ...


def should_restart(policy: str, code: int, *, init: bool, probe_kill: bool) -> bool:
    """``ShouldContainerBeRestarted`` (init containers restart on failure only, whatever the
    policy; a probe kill restarts unless the policy is Never)."""
    if policy == "Never":
        return False
    if probe_kill:
        return True
    if init or policy == "OnFailure":
        return code != 0
    return True


def termination_message(spec: Mapping[str, Any], logs: ContainerLogs, code: int) -> str:
    """``FallbackToLogsOnError``: the end of the log of a failed container."""
    if code == 0 or spec.get("terminationMessagePolicy") != "FallbackToLogsOnError":
        return ""
    lines = logs.current.select(tail=TERMINATION_LOG_LINES)
    text = b"".join(line.data for line in lines)[-TERMINATION_LOG_BYTES:]
    return text.decode(errors="replace")


class ContainerRunner:
    def __init__(self, pod: Pod, spec: Mapping[str, Any], kind: ImageKind, *,
                 init: bool = False, waiting_reason: str = "ContainerCreating") -> None:
        self.pod = pod
        self.spec = spec
        self.kind = kind
        self.init = init
        self.name = str(spec.get("name") or "")
        self.path = container_path(self.name, init)
        self.key = f"{pod.uid}/{self.name}"
        self.state = ContainerState(self.name, str(spec.get("image") or ""),
                                    waiting_reason=waiting_reason)
        self.logs = ContainerLogs()
        self.instance: Instance | None = None
        self.done = False        # exited for good (no restart coming)
        self.stopping = False
        self._kill_reason = ""   # set when a probe killed the instance
        self.probes: ProbeRunner | None = None
        self._stop_event = asyncio.Event()

    # --- the life ---------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if self.kind is ImageKind.UNKNOWN:
                await self._pull_forever()
                return
            while not self.stopping and not self.done:
                if not await self._start():
                    continue
                code = await self._wait_instance()
                if self.stop_requested():
                    return
                if not await self._after_exit(code):
                    return
        finally:
            if self.probes is not None:
                await self.probes.stop()

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self.pod.mark_dirty()

    def _event(self, etype: str, reason: str, message: str) -> None:
        self.pod.event(etype, reason, message, self.path)

    async def _pull_forever(self) -> None:
        """An image this node cannot run: ErrImagePull, then ImagePullBackOff, retried."""
        image = self.state.image
        why = unrunnable_message(image, self.pod.node.canarist_repos)
        backoff, key = self.pod.node.backoff, self.key + "/pull"
        first = True
        while not self.stopping:
            self._event("Normal", "Pulling", f'Pulling image "{image}"')
            self._event("Warning", "Failed", f'Failed to pull image "{image}": {why}')
            self._event("Warning", "Failed", "Error: ErrImagePull")
            if first:
                self.update(waiting_reason="ErrImagePull", waiting_message=why)
                first = False
            now = self.pod.node.clock()
            backoff.next(key, now)
            await self._sleep(2.0)
            self._event("Normal", "BackOff", f'Back-off pulling image "{image}"')
            self._event("Warning", "Failed", "Error: ImagePullBackOff")
            self.update(waiting_reason="ImagePullBackOff",
                      waiting_message=f'Back-off pulling image "{image}": ErrImagePull: {why}')
            await self._sleep(max(0.0, backoff.get(key) - 2.0))

    def stop_requested(self) -> bool:
        return self.stopping

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)

    async def _start(self) -> bool:
        """Start one instance; ``False`` when it could not (state and events say why)."""
        node = self.pod.node
        try:
            self.instance = await start_instance(self.pod, self, self.logs)
        except StartFailure as failure:
            if failure.reason in ("CreateContainerConfigError", "CreateContainerError"):
                self._event("Warning", "Failed", f"Error: {failure.message}")
                self.update(waiting_reason=failure.reason, waiting_message=failure.message)
                await self.pod.wait_change(RETRY_CONFIG)
                return False
            # the process could not start: a StartError exit, restarted as any failure
            now = node.clock()
            self._event("Warning", "Failed", f"Error: {failure.message}")
            term = Terminated(128, "StartError", now, now, failure.message,
                              container_id(self.pod.uid, self.name, self.state.restart_count))
            self.update(terminated=term, running_since=None, ready=False, started=None)
            await self._after_exit(128, term)
            return False
        probes = None
        if any(k in self.spec for k in ("startupProbe", "readinessProbe", "livenessProbe")):
            probes = ProbeRunner(self.pod, self)
        self.probes = probes
        self.update(running_since=self.instance.started_at, terminated=None,
                    ready=probes is None or (probes.started and not probes.has_readiness()),
                    started=None if "startupProbe" not in self.spec else False,
                    container_id=container_id(self.pod.uid, self.name, self.state.restart_count))
        if probes is not None:
            probes.start()
        return True

    async def _wait_instance(self) -> int:
        assert self.instance is not None
        code = await self.instance.wait()
        if self.probes is not None:
            await self.probes.stop()
        return code

    async def _after_exit(self, code: int, term: Terminated | None = None) -> bool:
        """Record the exit; ``True`` when the container is to start again."""
        node = self.pod.node
        now = node.clock()
        if term is None:
            started = self.state.running_since or now
            term = Terminated(code, "Completed" if code == 0 else "Error", started, now,
                              termination_message(self.spec, self.logs, code),
                              self.state.container_id)
            self.logs.current.close(now)
        self.update(terminated=term, running_since=None, ready=False, started=None)
        probe_kill, self._kill_reason = bool(self._kill_reason), ""
        if not should_restart(self.pod.restart_policy, code, init=self.init,
                              probe_kill=probe_kill):
            self.done = True
            return False
        backoff = node.backoff
        while backoff.in_backoff_since(self.key, term.finished_at, node.clock()):
            wait = backoff.remaining(self.key, term.finished_at, node.clock())
            message = (f"back-off {format_duration(backoff.get(self.key))} restarting failed "
                       f"container={self.name} pod={self.pod.name}_{self.pod.namespace}"
                       f"({self.pod.uid})")
            self._event("Warning", "BackOff",
                        f"Back-off restarting failed container {self.name} in pod "
                        f"{self.pod.name}_{self.pod.namespace}({self.pod.uid})")
            self.update(terminated=None, last_terminated=term, waiting_reason="CrashLoopBackOff",
                      waiting_message=message)
            await self._sleep(wait + 0.05)
            if self.stop_requested():
                return False
        backoff.next(self.key, node.clock())
        self.update(terminated=None, last_terminated=term, restart_count=self.state.restart_count
                  + 1, waiting_reason="ContainerCreating", waiting_message="")
        return True

    # --- kills --------------------------------------------------------------------------------

    async def kill_for_probe(self, probe: str, grace: float) -> None:
        """A failed liveness/startup probe: kill the instance; ``run`` restarts it."""
        self._kill_reason = probe
        self._event("Normal", "Killing",
                    f"Container {self.name} failed {probe} probe, will be restarted")
        if self.instance is not None:
            await self.instance.stop(grace)

    async def stop(self, grace: float) -> None:
        """Stop for good (the pod is deleted): SIGTERM, then SIGKILL after ``grace``."""
        self.stopping = True
        self._stop_event.set()
        if self.probes is not None:
            await self.probes.stop()
        if self.instance is not None and self.state.running_since is not None:
            self._event("Normal", "Killing", f"Stopping container {self.name}")
            await self.instance.stop(grace)
        if self.logs.instances and not self.logs.current.closed:
            self.logs.current.close(self.pod.node.clock())
