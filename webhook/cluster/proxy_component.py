"""``canarist proxy`` in cluster mode, in its own process, as a component of the embedded cluster.

``canarist up`` runs it for the Deployments with router ``proxy`` (every namespace: it follows
the route-table ConfigMaps the reconciler's ``proxy`` router writes and the ready endpoints of
the Services they name), and hands its admin address to the reconciler for the ``builtin``
analysis provider; ``canarist demo`` runs it for its namespace. The process is the real
``canarist proxy`` (``python -m webhook.cli proxy --kubeconfig ...``, the kubeconfig of its
ServiceAccount ``canarist-system/canarist-proxy``): the embedded cluster is a client of nothing
here, it only starts the program and reads the addresses it reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.cluster.kubelet.process import host_argv

log = logging.getLogger(__name__)
_ADMIN = re.compile(r"admin listening on http://([^:\s]+):(\d+)")
_PROXY = re.compile(r"proxy listening on ([^:\s]+):(\d+)")
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class ProxySettings:
    listen: str = "127.0.0.1:0"  # HOST:PORT; port 0: any free one
    admin_listen: str = "127.0.0.1:0"
    namespace: str = "all"  # the proxy's --namespace
    window: int | None = None  # the proxy's --window (seconds of /summary); None: its default


def _free(address: str) -> str:
    """``HOST:0`` → ``HOST:<a port free now>`` (so the admin URL is known before the process
    runs: the reconciler need not wait for it); any other address as it is."""
    host, _, port = address.rpartition(":")
    if port != "0":
        return address
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host.strip("[]"), 0))
        return f"{host}:{s.getsockname()[1]}"


class ProxyProcess:
    """One ``canarist proxy`` child process: ``admin_url`` from the start, ``address`` once it
    listens."""

    def __init__(self, options: ProxySettings) -> None:
        self.options = options
        self.admin_listen = _free(options.admin_listen)
        host, _, port = self.admin_listen.rpartition(":")
        self.admin_url = f"http://{host}:{port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.host = ""
        self.port = 0
        self.log: deque[str] = deque(maxlen=20)
        self._drain: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, kubeconfig: Path) -> None:
        o = self.options
        args = ["--kubeconfig", str(kubeconfig), "--namespace", o.namespace,
                "--listen", o.listen, "--admin-listen", self.admin_listen]
        if o.window is not None:
            args += ["--window", str(o.window)]
        # setpriv --pdeathsig KILL (where there is one): the proxy dies with the process that
        # started it, even one killed outright (SIGKILL, the OOM killer), never left serving
        argv = host_argv([sys.executable, "-m", "webhook.cli", "proxy", *args])
        self.proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        admin = False
        async with asyncio.timeout(START_TIMEOUT):
            while not (self.port and admin):
                line = (await self.proc.stderr.readline()).decode(errors="replace")
                if not line:
                    lines = "; ".join(self.log) or "no output"
                    raise RuntimeError(f"canarist proxy stopped while starting: {lines}")
                self.log.append(line.rstrip())
                admin = admin or bool(_ADMIN.search(line))
                if found := _PROXY.search(line):
                    self.host, self.port = found[1], int(found[2])
        self._drain = asyncio.get_running_loop().create_task(self._keep_log())

    async def _keep_log(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode(errors="replace").rstrip())

    @property
    def failed(self) -> bool:
        """It exited on its own, with an error."""
        return self.proc is not None and self.proc.returncode not in (None, 0, -15)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 2)


async def run_proxy(
    api: Any, stop: asyncio.Event, *, ready: asyncio.Event, kubeconfig: Path,
    proxy: ProxyProcess,
) -> None:
    """``async def run(api, stop_event, *, ready, kubeconfig, proxy)`` of
    ``webhook.cluster.runtime``; ``api`` (the in-process API) is not used."""
    del api
    try:
        await proxy.start(kubeconfig)
        ready.set()
        assert proxy.proc is not None
        waiting = asyncio.ensure_future(stop.wait())
        exited = asyncio.ensure_future(proxy.proc.wait())
        await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        exited.cancel()
        if proxy.failed:
            log.error("canarist proxy exited with %s; its last lines: %s",
                      proxy.proc.returncode, " | ".join(proxy.log))
    finally:
        await proxy.stop()
