"""``canarist up`` killed outright (SIGKILL: no handler runs) takes its proxy child with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from .test_up import READY, start_up


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_proxy_child_dies_with_up(tmp_path: Path) -> None:
    proc, _, line = start_up(tmp_path, "--without", "reconciler,webhook,kubelet")
    proxy = 0
    try:
        assert READY.match(line), line
        proxies = [
            pid for pid in children(proc.pid)
            if "webhook.cli" in cmdline(pid) and "proxy" in cmdline(pid)
        ]
        assert len(proxies) == 1, [cmdline(p) for p in children(proc.pid)]
        proxy = proxies[0]
        assert alive(proxy)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while alive(proxy) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(proxy), f"the proxy {proxy} outlived canarist up: {cmdline(proxy)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proxy and alive(proxy):  # not left running when the test fails
            os.kill(proxy, signal.SIGKILL)
