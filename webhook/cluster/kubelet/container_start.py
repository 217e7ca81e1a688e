"""Starting one instance of a container (``startContainer``): the demo app's servers, or a
canarist process with its environment, command line and volume mounts; and running a command
inside a running one (exec probes).

Failures carry the waiting reason upstream reports: ``CreateContainerConfigError`` (a missing
Secret/ConfigMap key, an unknown volume), ``CreateContainerError`` (a mount the node cannot
make), or ``StartError`` (the program is not in the image, or the process could not start).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from webhook.cluster.kubelet.demo_app import demo_config
from webhook.cluster.kubelet.demo_container import DemoServers, new_servers, tcp_ports
from webhook.cluster.kubelet.env import (
    ConfigError,
    EnvInputs,
    command_line,
    container_env,
    service_env,
)
from webhook.cluster.kubelet.expansion import expand, mapping_for
from webhook.cluster.kubelet.images import ImageKind
from webhook.cluster.kubelet.isolation import Isolation
from webhook.cluster.kubelet.logs import ContainerLogs
from webhook.cluster.kubelet.mounts import Bind, MountPlanError, plan, script
from webhook.cluster.kubelet.process import (
    Launch,
    Process,
    StartError,
    base_env,
    exec_argv,
    host_argv,
    launch,
    namespaced_argv,
    resolve,
)
from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.cluster.kubelet.container import ContainerRunner, Pod

ENTRYPOINT = ("canarist",)
READ_ONLY_KINDS = ("secret", "configMap", "downwardAPI", "projected")
MAX_EXEC_OUTPUT = 10 << 10


class StartFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Volumes(Protocol):
    def volume(self, name: str) -> tuple[Path, str] | None: ...


class Instance(Protocol):
    started_at: float
    env: dict[str, str]

    @property
    def pid(self) -> int | None: ...
    async def wait(self) -> int: ...
    async def stop(self, grace: float) -> None: ...


@dataclass
class DemoInstance:
    servers: DemoServers
    started_at: float
    env: dict[str, str] = field(default_factory=dict)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> int | None:
        return None

    async def wait(self) -> int:
        await self._stopped.wait()
        return 0  # the demo app exits cleanly on SIGTERM

    async def stop(self, grace: float) -> None:
        await self.servers.close(grace)
        self._stopped.set()


@dataclass
class ProcessInstance:
    process: Process
    started_at: float
    env: dict[str, str]

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace: float) -> None:
        await self.process.stop(grace)


def _events_created(pod: Pod, runner: ContainerRunner) -> None:
    pod.event("Normal", "Pulled",
              f'Container image "{runner.state.image}" already present on machine', runner.path)
    pod.event("Normal", "Created", f"Created container: {runner.name}", runner.path)


async def start_instance(pod: Pod, runner: ContainerRunner, logs: ContainerLogs) -> Instance:
    if runner.kind is ImageKind.DEMO:
        return await _start_demo(pod, runner, logs)
    return await _start_process(pod, runner, logs)


async def _start_demo(pod: Any, runner: ContainerRunner, logs: ContainerLogs) -> Instance:
    node = pod.node
    if pod.net is not None:
        raise StartFailure("CreateContainerError",
                           "the demo app runs on the node's own network and cannot share a "
                           "pod's network namespace with canarist's image")
    servers = pod.take_demo_servers(runner.name)
    if servers is not None:
        config = servers.app.config  # parsed when the pod's address was bound
    else:
        field = "initContainers" if runner.init else "containers"
        names = [str(c.get("name")) for c in (pod.pod.get("spec") or {}).get(field) or ()]
        path = f"spec.{field}[{names.index(runner.name) if runner.name in names else 0}]"
        try:
            config = demo_config(runner.spec, path)
        except InvalidInput as exc:
            raise StartFailure("CreateContainerConfigError", str(exc)) from exc
        servers = new_servers(config, pod=pod.name, namespace=pod.namespace, ip=pod.ip,
                              clock=node.clock)
        try:
            await servers.listen(pod.ip, tcp_ports(runner.spec))
        except OSError as exc:
            raise StartFailure("StartError", f"cannot listen: {exc.strerror or exc}") from exc
    _events_created(pod, runner)
    now = node.clock()
    log = logs.new_instance(now)
    ports = ", ".join(str(p) for p in tcp_ports(runner.spec)) or "no ports"
    log.write("stdout", f"demo app {config.version} serving on {pod.ip} ({ports})\n".encode(),
              now)
    pod.event("Normal", "Started", f"Started container {runner.name}", runner.path)
    return DemoInstance(servers, now)


def _binds(pod: Any, runner: ContainerRunner, env: Mapping[str, str]) -> list[Bind]:
    out: list[Bind] = []
    for m in runner.spec.get("volumeMounts") or ():
        name = str(m.get("name") or "")
        found = pod.volume(name)
        if found is None:
            raise StartFailure("CreateContainerConfigError",
                               f'cannot find volume "{name}" to mount into container '
                               f'"{runner.name}"')
        root, kind = found
        source = root
        sub = str(m.get("subPath") or "") or expand(str(m.get("subPathExpr") or ""),
                                                   mapping_for(env))
        if sub:
            parts = sub.split("/")
            if sub.startswith("/") or ".." in parts:
                raise StartFailure("CreateContainerConfigError",
                                   f'failed to prepare subPath for volumeMount "{name}" of '
                                   f'container "{runner.name}"')
            source = root / sub
            if kind == "emptyDir" and not source.exists():
                source.mkdir(parents=True, exist_ok=True)
            real, base = Path(os.path.realpath(source)), Path(os.path.realpath(root))
            if not real.exists() or not (real == base or base in real.parents):
                raise StartFailure("CreateContainerConfigError",
                                   f'failed to prepare subPath for volumeMount "{name}" of '
                                   f'container "{runner.name}"')
            source = real
        read_only = bool(m.get("readOnly")) or kind in READ_ONLY_KINDS
        out.append(Bind(str(source), str(m.get("mountPath") or ""), read_only,
                        source.is_file()))
    return out


async def _start_process(pod: Any, runner: ContainerRunner, logs: ContainerLogs) -> Instance:
    node = pod.node
    host, port = await node.api_endpoint()
    spec = pod.pod.get("spec") or {}
    inputs = EnvInputs(pod.pod, pod.ip, node.pool.host_ip, node.secret(pod.namespace),
                       node.configmap(pod.namespace), service_env(
                           pod.namespace, node.services.list(),
                           links=spec.get("enableServiceLinks") is not False,
                           api_host=host, api_port=port))
    try:
        env = container_env(runner.spec, inputs,
                            lambda reason, msg: pod.event("Warning", reason, msg))
    except ConfigError as exc:
        raise StartFailure("CreateContainerConfigError", str(exc)) from exc
    full_env = {**base_env(pod.hostname), **env}
    try:
        program = resolve(command_line(runner.spec, env, ENTRYPOINT))
    except StartError as exc:
        _events_created(pod, runner)
        raise StartFailure("StartError", str(exc)) from exc
    workdir = str(runner.spec.get("workingDir") or "/")
    binds = _binds(pod, runner, env)
    if node.isolation is Isolation.NAMESPACES:
        binds.append(Bind(str(pod.etc_hosts()), "/etc/hosts", False, True))
        try:
            root = plan(node.mountinfo, binds, node.hidden_paths(), keep=node.kept_paths())
        except MountPlanError as exc:
            raise StartFailure("CreateContainerError", str(exc)) from exc
        scratch = pod.scratch_dir(runner.name, runner.state.restart_count)
        spec_launch = Launch(namespaced_argv(pod.netns_pid, script(root, str(scratch), workdir),
                                             program), full_env, None, True)
    else:
        if binds:
            raise StartFailure("CreateContainerError",
                               f"cannot mount volumes into container \"{runner.name}\": "
                               f"the node runs without mount namespaces "
                               f"({node.isolation_reason})")
        full_env["HOME"] = str(pod.home_dir())
        spec_launch = Launch(host_argv(program), full_env,
                             _existing_dir(workdir), False)
    _events_created(pod, runner)
    now = node.clock()
    log = logs.new_instance(now)
    try:
        process = await launch(spec_launch, log)
    except StartError as exc:
        raise StartFailure("StartError", str(exc)) from exc
    pod.event("Normal", "Started", f"Started container {runner.name}", runner.path)
    return ProcessInstance(process, node.clock(), full_env)


def _existing_dir(path: str) -> str | None:
    return path if os.path.isdir(path) else None


async def exec_in(pod: Any, runner: ContainerRunner, command: Sequence[str],
                  seconds: float) -> tuple[bool, str]:
    """An exec probe: the command inside the running container; exit 0 succeeds."""
    instance = runner.instance
    if runner.kind is not ImageKind.CANARIST or instance is None:
        return False, (f'exec: "{command[0] if command else ""}": executable file not found '
                       f"in $PATH (the demo app's image holds no programs)")
    try:
        program = resolve(command)
    except StartError as exc:
        return False, str(exc)
    target = instance.pid if pod.node.isolation is Isolation.NAMESPACES else None
    proc = await asyncio.create_subprocess_exec(
        *exec_argv(target, program), env=instance.env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
        return False, f'command "{" ".join(command)}" timed out'
    text = out[:MAX_EXEC_OUTPUT].decode(errors="replace").strip()
    return proc.returncode == 0, text
