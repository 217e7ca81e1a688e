"""``canarist proxy`` as a process, for the tests that run it: start it, read its log, measure
its memory."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Running:
    """A proxy process; its stderr lines are collected by a thread."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webhook.cli", "proxy", *args], cwd=ROOT,
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = 0
        self.admin = 0

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, pattern: str, within: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.log.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r}; log: {''.join(self.log)}")

    def lines_for(self, seconds: float) -> list[str]:
        """The lines logged in the next ``seconds``."""
        deadline = time.monotonic() + seconds
        got = []
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(queue.Empty):
                got.append(self.lines.get(timeout=min(left, 0.1)))
        self.log += got
        return got

    def started(self, workers: int = 1) -> Running:
        if self.admin == 0:
            self.admin = int(self.wait_for(r"admin listening on http://127.0.0.1:(\d+)")[1])
        what = "workers" if workers > 1 else r"route\(s\)"
        self.port = int(self.wait_for(rf"proxy listening on 127.0.0.1:(\d+) with \d+ {what}")[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start(spawn: list[Running], routes: Path, *extra: str) -> Running:
    r = Running(["--routes", str(routes), "--listen", "127.0.0.1:0",
                 "--admin-listen", "127.0.0.1:0", *extra])
    spawn.append(r)
    return r


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webhook.cli", "proxy", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found
    return int(found[1])


def rss_kib(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found
    return int(found[1])
