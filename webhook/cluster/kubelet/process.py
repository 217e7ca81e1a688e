"""Containers of canarist's image as real processes of the installed canarist.

The image's entrypoint is ``canarist``; a container's ``command`` replaces it and its ``args``
follow (``env.command_line``). The image holds two programs, resolved here to this machine's
installation: ``canarist`` (or ``kubectl-canarist``, at any path) runs
``<this interpreter> -m webhook.cli``, ``python``/``python3`` run this interpreter. Anything
else fails to start as a missing executable does in a container (``StartError``, exit 128).

``launch`` starts one — under ``NAMESPACES`` through the mount script of ``mounts`` inside the
pod's network namespace, under ``HOST`` directly — every process with a parent-death signal so
none outlives the node. Output goes to the instance's log; ``stop`` sends SIGTERM, then
SIGKILL to the whole process group once the grace period is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from webhook.cluster.kubelet.logs import InstanceLog

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROGRAMS = ("canarist", "kubectl-canarist", "python", "python3")
MAX_REPORT = 64 << 10


class StartError(Exception):
    """The container's process could not be started (message as the runtime words it)."""


def resolve(argv: Sequence[str], python: str = sys.executable) -> list[str]:
    """The machine's command line for a container's command line."""
    if not argv:
        raise StartError("no command specified")
    name = PurePosixPath(argv[0]).name
    if name in ("canarist", "kubectl-canarist"):
        return [python, "-m", "webhook.cli", *argv[1:]]
    if name in ("python", "python3", f"python3.{sys.version_info.minor}"):
        return [python, *argv[1:]]
    raise StartError(
        f'failed to create containerd task: failed to create shim task: OCI runtime create '
        f'failed: runc create failed: unable to start container process: exec: "{argv[0]}": '
        f'executable file not found in $PATH: unknown (canarist\'s image holds only '
        f'{", ".join(PROGRAMS)})')


def base_env(hostname: str) -> dict[str, str]:
    """What the image and the runtime put in every container's environment."""
    return {"PATH": f"{PurePosixPath(sys.executable).parent}:{DEFAULT_PATH}",
            "HOSTNAME": hostname, "HOME": "/root", "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1"}


def exit_code(returncode: int) -> int:
    """A container's exit code: killed by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def has_setpriv() -> bool:
    return sys.platform.startswith("linux") and shutil.which("setpriv") is not None


def namespaced_argv(holder_pid: int, script: str, program: Sequence[str]) -> list[str]:
    """Run ``program`` through the mount script, in a new mount namespace inside the pod's
    network and UTS namespaces."""
    return ["setpriv", "--pdeathsig", "KILL", "--",
            "nsenter", f"--net=/proc/{holder_pid}/ns/net", f"--uts=/proc/{holder_pid}/ns/uts",
            "--", "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", script, "canarist-container", *program]


def host_argv(program: Sequence[str]) -> list[str]:
    return ["setpriv", "--pdeathsig", "KILL", "--", *program] if has_setpriv() else list(program)


def exec_argv(target_pid: int | None, program: Sequence[str]) -> list[str]:
    """A command inside a running container (exec probes): its namespaces, root and cwd."""
    if target_pid is None:
        return host_argv(program)
    return ["setpriv", "--pdeathsig", "KILL", "--", "nsenter", "-t", str(target_pid),
            "-n", "-u", "-m", "-r", "-w", "--", *program]


@dataclass
class Launch:
    argv: list[str]     # what to exec on the machine
    env: dict[str, str]
    cwd: str | None     # HOST only: under NAMESPACES the mount script enters the directory
    reports: bool       # the mount script reports "ok" or its error on its stdin


class Process:
    """One running container process."""

    def __init__(self, proc: asyncio.subprocess.Process, log: InstanceLog,
                 readers: list[asyncio.Task[None]]) -> None:
        self.proc = proc
        self.log = log
        self._readers = readers

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    async def wait(self) -> int:
        code = await self.proc.wait()
        for task in self._readers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 2)
        return exit_code(code)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL to the process group once ``grace`` seconds have passed."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), max(grace, 0.0))
        self.kill_group()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)


async def _pump(stream: asyncio.StreamReader, name: str, log: InstanceLog) -> None:
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        log.write(name, chunk, time.time())


async def launch(spec: Launch, log: InstanceLog) -> Process:
    """Start the process; returns once it runs (through the mount script: once it reported)."""
    status_r = status_w = -1
    if spec.reports:
        status_r, status_w = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *spec.argv, env=spec.env, cwd=spec.cwd,
            stdin=status_w if spec.reports else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)
    except OSError as exc:
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        raise StartError(f"failed to start: {exc.strerror or exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    readers = [asyncio.create_task(_pump(proc.stdout, "stdout", log)),
               asyncio.create_task(_pump(proc.stderr, "stderr", log))]
    process = Process(proc, log, readers)
    if spec.reports:
        os.close(status_w)
        report = await _read_report(status_r)
        if report != "ok":
            await process.stop(0)
            await process.wait()
            raise StartError(report or "the container's filesystem could not be set up")
    return process


async def _read_report(fd: int) -> str:
    reader = asyncio.StreamReader(limit=MAX_REPORT)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    try:
        data = (await asyncio.wait_for(reader.read(), 60))[:MAX_REPORT]
    except TimeoutError:
        data = b"the container's filesystem took longer than 60 s to set up"
    finally:
        transport.close()
    return data.decode(errors="replace").strip()
