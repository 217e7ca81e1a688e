"""One pod on the node (the kubelet's pod worker): its sandbox, volumes, init and regular
containers, status writes, and termination.

Demo-app pods stay cheap: an address where all their ports bind, in-process servers, one status
write. Pods that run canarist's image get a network namespace under ``NAMESPACES`` isolation,
their volumes on disk, init containers run one after the other, then the containers. A pod whose
containers all finished for good (``restartPolicy`` Never/OnFailure) turns Succeeded or Failed
and gives its namespace back; its logs stay until it is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webhook.cluster.kubelet import network
from webhook.cluster.kubelet.container import ContainerRunner
from webhook.cluster.kubelet.demo_app import demo_config
from webhook.cluster.kubelet.demo_container import DemoServers, bind_pod, tcp_ports
from webhook.cluster.kubelet.images import ImageKind, classify
from webhook.cluster.kubelet.isolation import Isolation
from webhook.cluster.kubelet.logs import InstanceLog
from webhook.cluster.kubelet.node import NodeContext
from webhook.cluster.kubelet.pod_status import pod_status
from webhook.cluster.kubelet.pod_volumes import PodVolumes, sleep_or
from webhook.errors import APIStatusError, InvalidInput

log = logging.getLogger(__name__)
SANDBOX_RETRY = 5.0


def hosts_file(ip: str, hostname: str) -> str:
    """The pod's ``/etc/hosts`` as the kubelet writes it."""
    return ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            f"{ip}\t{hostname}\n")


def _sockets_on(ip: str) -> bool:
    """Whether any TCP socket of this machine is bound to ``ip`` (another cluster's pod)."""
    want = "".join(f"{int(o):02X}" for o in reversed(ip.split(".")))
    try:
        with open("/proc/net/tcp", encoding="ascii") as fh:
            return any(line.split()[1].startswith(want + ":") for line in fh.readlines()[1:])
    except OSError:
        return False


class PodWorker:
    def __init__(self, node: NodeContext, pod: Mapping[str, Any]) -> None:
        md = pod.get("metadata") or {}
        self.node = node
        self._pod = pod
        self.namespace = str(md.get("namespace") or "")
        self.name = str(md.get("name") or "")
        self.uid = str(md.get("uid") or "")
        self.ip = ""
        self.net: network.PodNetwork | None = None
        self.started = node.clock()
        self.stopping = False
        self.terminal = False
        self.sandbox_ready = False
        spec = pod.get("spec") or {}
        kinds = {str(c.get("name")): classify(str(c.get("image") or ""), node.canarist_repos)
                 for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]}
        self.init_runners = [ContainerRunner(self, c, kinds[str(c.get("name"))], init=True)
                             for c in spec.get("initContainers") or ()]
        waiting = "PodInitializing" if self.init_runners else "ContainerCreating"
        self.runners = [ContainerRunner(self, c, kinds[str(c.get("name"))],
                                        waiting_reason=waiting)
                        for c in spec.get("containers") or ()]
        self.runs_processes = ImageKind.CANARIST in kinds.values()
        self.volumes = PodVolumes(self, write_files=self.runs_processes)
        self._changed = asyncio.Event()
        self._dirty = False
        self._writer: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._prebound: dict[str, DemoServers] = {}
        self._pod_dir: Path | None = None

    # --- what containers read -----------------------------------------------------------------

    @property
    def pod(self) -> Mapping[str, Any]:
        return self._pod

    @property
    def restart_policy(self) -> str:
        return str((self._pod.get("spec") or {}).get("restartPolicy") or "Always")

    @property
    def hostname(self) -> str:
        return network.pod_hostname(str((self._pod.get("spec") or {}).get("hostname")
                                        or self.name))

    @property
    def netns_pid(self) -> int:
        assert self.net is not None
        return self.net.pid

    def pod_dir(self) -> Path:
        if self._pod_dir is None:
            self._pod_dir = self.node.node_state().pod_dir(self.uid)
        return self._pod_dir

    def scratch_dir(self, container: str, instance: int) -> Path:
        path = self.pod_dir() / "scratch" / f"{container}-{instance}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def home_dir(self) -> Path:
        path = self.pod_dir() / "home"
        path.mkdir(exist_ok=True, mode=0o700)
        return path

    def etc_hosts(self) -> Path:
        path = self.pod_dir() / "etc-hosts"
        path.write_text(hosts_file(self.ip, self.hostname))
        return path

    def volume(self, name: str) -> tuple[Path, str] | None:
        return self.volumes.dirs.get(name)

    def take_demo_servers(self, container: str) -> DemoServers | None:
        return self._prebound.pop(container, None)

    def event(self, etype: str, reason: str, message: str, field_path: str = "") -> None:
        self.node.events.record(self._pod, etype, reason, message, field_path)

    def update(self, pod: Mapping[str, Any]) -> None:
        """A newer version of the pod: its labels and annotations feed downward API volumes
        (the node's own status writes change neither, and wake nothing)."""
        old, new = self._pod.get("metadata") or {}, pod.get("metadata") or {}
        self._pod = pod
        if any(old.get(k) != new.get(k) for k in ("labels", "annotations")):
            self.poke()

    def is_stopping(self) -> bool:
        return self.stopping

    def poke(self) -> None:
        self._changed.set()

    async def wait_change(self, seconds: float) -> None:
        await sleep_or(self._changed, seconds)
        self._changed.clear()

    # --- start --------------------------------------------------------------------------------

    async def start(self) -> None:
        if not await self._sandbox():
            self._spawn(self._retry_sandbox())
            return
        if not self.runs_processes and not self.init_runners and self.volumes.check():
            self._start_containers()  # demo pods whose volumes are there: nothing to wait for
            return
        self.mark_dirty()
        self._spawn(self._main())

    async def _retry_sandbox(self) -> None:
        while not self.stopping:
            await asyncio.sleep(SANDBOX_RETRY)
            if await self._sandbox():
                await self._main()
                return

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def _sandbox(self) -> bool:
        node = self.node
        if self.runs_processes:
            await node.confirm_isolation()
        try:
            if self.runs_processes and node.isolation is Isolation.NAMESPACES:
                ip = node.pool.take()
                while _sockets_on(ip):
                    ip = node.pool.take()
                self.ip = ip
                self.net = await network.create(ip, node.pool.host_ip, self.hostname,
                                                f"{node.node_state().root.name}/{self.uid}",
                                                self.pod_dir())
            else:
                await self._bind_demo()
        except (network.SandboxError, OSError) as exc:
            if self.ip:
                node.pool.release(self.ip)
            self.ip = ""
            self.event("Warning", "FailedCreatePodSandBox",
                       f"Failed to create pod sandbox: {exc}")
            self.mark_dirty()
            return False
        self.sandbox_ready = True
        return True

    async def _bind_demo(self) -> None:
        demo = []
        for r in self.runners:
            if r.kind is ImageKind.DEMO:
                try:
                    demo.append((r.name, demo_config(r.spec), tcp_ports(r.spec)))
                except InvalidInput:
                    continue  # its start reports the bad setting
        if not demo:
            self.ip = self.node.pool.take()
            return
        self.ip, servers = await bind_pod(
            self.node.pool, [(cfg, ports) for _, cfg, ports in demo], pod=self.name,
            namespace=self.namespace, clock=self.node.clock)
        self._prebound = {name: s for (name, _, _), s in zip(demo, servers, strict=True)}

    async def _main(self) -> None:
        if self.volumes.specs:
            if not await self.volumes.mount():
                return
            if self.runs_processes:
                self._spawn(self.volumes.keep_current())
        for runner in self.init_runners:
            await runner.run()
            if self.stopping:
                return
            if runner.state.terminated is None or runner.state.terminated.exit_code != 0:
                self._finish()  # failed for good (restartPolicy Never)
                return
        for r in self.runners:
            r.update(waiting_reason="ContainerCreating")
        self._start_containers()

    def _start_containers(self) -> None:
        for runner in self.runners:
            self._spawn(self._run_container(runner))

    async def _run_container(self, runner: ContainerRunner) -> None:
        await runner.run()
        if not self.stopping and self.runners and all(r.done for r in self.runners):
            self._finish()

    def _finish(self) -> None:
        """Every container finished for good: the pod is terminal; its namespace goes."""
        if self.terminal:
            return
        self.terminal = True
        self.mark_dirty()
        if self.net is not None:
            self._spawn(network.destroy(self.net))

    # --- status -------------------------------------------------------------------------------

    def mark_dirty(self) -> None:
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop())

    async def _write_loop(self) -> None:
        while self._dirty and not self.stopping:
            self._dirty = False
            await self._write_status()

    async def _write_status(self) -> None:
        node = self.node
        status = pod_status(self._pod, [r.state for r in self.runners], pod_ip=self.ip,
                            host_ip=node.pool.host_ip, started=self.started, now=node.clock(),
                            init=[r.state for r in self.init_runners],
                            sandbox_ready=self.sandbox_ready and not self.terminal,
                            terminal=self.terminal)
        try:
            self._pod = await node.api.patch(
                "pods", self.namespace, self.name,
                {"metadata": {"uid": self.uid}, "status": status}, "merge",
                subresource="status", user=node.user)
        except APIStatusError as exc:
            log.debug("status of pod %s/%s not written: %s", self.namespace, self.name, exc)

    # --- logs ---------------------------------------------------------------------------------

    def runner(self, container: str) -> ContainerRunner | None:
        for r in [*self.runners, *self.init_runners]:
            if r.name == container:
                return r
        return None

    def container_log(self, container: str, previous: bool) -> InstanceLog | None:
        r = self.runner(container)
        if r is None:
            return None
        return r.logs.previous if previous else (r.logs.current if r.logs.instances else None)

    # --- stop ---------------------------------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``grace``), then free the sandbox."""
        self.stopping = True
        self.poke()
        await asyncio.gather(*(r.stop(grace) for r in [*self.init_runners, *self.runners]),
                             return_exceptions=True)
        for servers in self._prebound.values():
            await servers.close(0)
        self._prebound.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if self.net is not None:
            await network.destroy(self.net)
        if self.ip:
            self.node.pool.release(self.ip)
        if self._pod_dir is not None and self.node.state is not None:
            self.node.state.remove_pod(self.uid)
