"""The node's files on this machine, and the clean-up of what a dead node left behind.

Each running node owns ``<base>/<id>/`` (base: ``/run/canarist/kubelet`` as root, else a
directory in the user's temp dir), with an ``owner`` file naming its process (pid and start
time, so a reused pid is not mistaken for it) and one directory per pod (volumes, scratch
space, ``sandbox.json`` recording the namespace holder process and host veth it created).

Namespaces, veths and mounts normally vanish with the processes holding them (every process
the node starts dies with it: parent-death signal); ``reap_stale`` is the safety net, run at
start: for every node directory whose owner is gone it kills the recorded holder processes
(only when their start time matches the record), deletes the recorded veths and removes the
directory. Nothing it did not record is touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SANDBOX_FILE = "sandbox.json"


def default_base() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0 and Path("/run").is_dir():
        return Path("/run/canarist/kubelet")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"canarist-{uid}" / "kubelet"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return raw.rsplit(")", 1)[1].split()[19]
    except IndexError:
        return None


def alive(pid: int, started: str | None) -> bool:
    if Path("/proc").is_dir():
        return start_time(pid) is not None and start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class NodeState:
    base: Path
    root: Path

    @classmethod
    def create(cls, base: Path | None = None) -> NodeState:
        base = base or default_base()
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        reap_stale(base)
        root = base / f"{os.getpid()}-{secrets.token_hex(4)}"
        root.mkdir(mode=0o700)
        me = os.getpid()
        (root / "owner").write_text(f"{me} {start_time(me) or ''}\n")
        return cls(base, root)

    def pod_dir(self, uid: str) -> Path:
        path = self.root / "pods" / uid
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def remove_pod(self, uid: str) -> None:
        shutil.rmtree(self.root / "pods" / uid, ignore_errors=True)

    def close(self) -> None:
        for pod in (self.root / "pods").glob("*") if (self.root / "pods").is_dir() else ():
            reap_pod(pod)
        shutil.rmtree(self.root, ignore_errors=True)


def record_sandbox(pod_dir: Path, holder_pid: int, veth: str) -> None:
    data = {"holder": holder_pid, "started": start_time(holder_pid), "veth": veth}
    (pod_dir / SANDBOX_FILE).write_text(json.dumps(data))


def reap_pod(pod_dir: Path) -> None:
    """Kill the recorded holder (if it is still that process) and delete the recorded veth."""
    try:
        data: dict[str, Any] = json.loads((pod_dir / SANDBOX_FILE).read_text())
    except (OSError, ValueError):
        return
    pid, started, veth = data.get("holder"), data.get("started"), data.get("veth")
    if isinstance(pid, int) and started and alive(pid, started):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if isinstance(veth, str) and veth and Path(f"/sys/class/net/{veth}").exists():
        subprocess.run(["ip", "link", "del", veth], capture_output=True, check=False,
                       timeout=10)


def reap_stale(base: Path) -> list[Path]:
    """Remove the directories of nodes whose process is gone; returns what was removed."""
    removed = []
    for node in base.iterdir() if base.is_dir() else ():
        owner = node / "owner"
        if not node.is_dir() or not owner.exists():
            continue
        try:
            pid_text, _, started = owner.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if alive(pid, started or None):
            continue
        log.info("removing what a stopped node left in %s", node)
        for pod in (node / "pods").glob("*") if (node / "pods").is_dir() else ():
            reap_pod(pod)
        shutil.rmtree(node, ignore_errors=True)
        removed.append(node)
    return removed
