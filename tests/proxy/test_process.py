"""``canarist proxy`` as a process: flags, file reload, SIGHUP, SIGTERM drain, workers, memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.admission.rawhttp import read_response
from tests.proxy.conftest import Backend, routes_text, versions

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


@pytest.fixture
def spawn() -> Iterator[list[Running]]:
    made: list[Running] = []
    yield made
    for r in made:
        r.stop()


def start(spawn: list[Running], routes: Path, *extra: str) -> Running:
    r = Running(["--routes", str(routes), "--listen", "127.0.0.1:0",
                 "--admin-listen", "127.0.0.1:0", *extra])
    spawn.append(r)
    return r


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webhook.cli", "proxy", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)


def test_a_bad_routes_file_refuses_to_start(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n- name: web\n  stable: {endpoints: [nohost]}\n  weight: 300\n")
    done = run_cli("--routes", str(routes), "--listen", "127.0.0.1:0")
    assert done.returncode == 2
    assert f"{routes}: 2 problems" in done.stderr
    assert "routes[0].stable.endpoints[0]: must be HOST:PORT" in done.stderr
    assert "routes[0].weight: must be between 0 and 100, got 300" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "--workers: must be between 1 and 64, got 0"),
    (["--listen", "nowhere"], "--listen: must be HOST:PORT"),
    (["--upstream-timeout", "0"], "--upstream-timeout: must be more than 0"),
    (["--header-timeout", "0"], "--header-timeout: must be more than 0"),
    (["--max-fields", "0"], "--max-fields: must be between 1 and 10000, got 0"),
    (["--max-head-bytes", "4096"], "--max-head-bytes: must be at least --max-uri-bytes and "
                                   "--max-field-bytes, got 4096"),
    (["--trusted-proxies", "10.0.0.0/8,nope"],
     "--trusted-proxies: 'nope' is not an IP address or CIDR block"),
])
def test_bad_flags_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text('routes: [{name: web, stable: {endpoints: ["127.0.0.2:1"]}}]\n')
    done = run_cli("--routes", str(routes), *args)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--kubeconfig", "/nonexistent"], "--kubeconfig: /nonexistent: no such file"),
    (["--routes", "r.yaml", "--namespace", "team-a"],
     "--namespace: only for cluster mode (--kubeconfig or --cluster)"),
    (["--routes", "r.yaml", "--context", "kind"],
     "--context: only for cluster mode (--kubeconfig or --cluster)"),
    (["--cluster", "--namespace", "Bad_NS"], "--namespace: 'Bad_NS' is not a valid namespace"),
])
def test_cluster_mode_flags_are_checked(args: list[str], message: str) -> None:
    done = run_cli(*args, "--listen", "127.0.0.1:0")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


async def wait_version(session: aiohttp.ClientSession, url: str, version: str,
                       within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        async with session.get(url) as r:
            if r.headers["x-canarist-version"] == version:
                return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"still not {version} after {within}s")


async def test_file_changes_apply_within_2s_and_bad_ones_keep_the_last_good_table(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends, weight=0))
    proxy = start(spawn, routes).started()
    assert await versions(session, proxy.url + "/", 20) == {"stable": 20}
    routes.write_text(routes_text(backends, weight=100))
    assert await wait_version(session, proxy.url + "/", "canary", 2.0) < 2.0
    routes.write_text("routes: [{name: web, weight: 500}]")
    proxy.wait_for(rf"refused new routes: {re.escape(str(routes))}: .*routes\[0\]\.weight")
    assert await versions(session, proxy.url + "/", 20) == {"canary": 20}
    routes.write_text(routes_text(backends, weight=0))
    await wait_version(session, proxy.url + "/", "stable", 2.0)


async def test_limits_and_trusted_proxies_are_flags(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends))
    proxy = start(spawn, routes, "--max-fields", "3", "--trusted-proxies", "10.0.0.0/8",
                  "--trusted-proxies", "127.0.0.1,::1").started()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: web\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"
                 b"GET / HTTP/1.1\r\nHost: web\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    first = await read_response(reader)
    second = await read_response(reader)
    writer.close()
    assert (first[0], second[0]) == (200, 431)
    seen = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    assert seen["x-forwarded-for"] == "192.0.2.1, 127.0.0.1"


def rewrite_in_place(path: Path, text: str) -> None:
    """Same size, same inode (and the caller restores the mtime): polling cannot see it."""
    with open(path, "r+") as fh:
        fh.write(text)


async def test_sighup_reloads_at_once(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends, weight=10))
    proxy = start(spawn, routes).started()
    stat = routes.stat()
    rewrite_in_place(routes, routes_text(backends, weight=99))
    os.utime(routes, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    await asyncio.sleep(1.2)
    assert (await versions(session, proxy.url + "/", 100)).get("canary") == 10
    proxy.proc.send_signal(signal.SIGHUP)
    proxy.wait_for("routes reloaded")
    assert (await versions(session, proxy.url + "/", 100)).get("canary") == 99


# a table whose parsing raised an unexpected error (OverflowError from the regex engine), which
# silently stopped the watcher: later edits and SIGHUP were ignored
BREAKS_THE_PARSER = [{"name": "b", "match": [{"headerName": "X-A",
                                              "headerValue": {"regex": "a{4294967296}"}}]}]


async def test_the_file_watcher_survives_any_table(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends, weight=0))
    proxy = start(spawn, routes).started()
    routes.write_text(routes_text(backends, weight=100, headerRoutes=BREAKS_THE_PARSER))
    proxy.wait_for(rf"refused new routes: {re.escape(str(routes))}: .*keeping the last good "
                   "table$")
    later = proxy.lines_for(1.5)  # three polls: the same table is not logged again
    assert not [line for line in later if "refused" in line or "Traceback" in line], later
    assert await versions(session, proxy.url + "/", 20) == {"stable": 20}
    # later edits apply
    good = routes_text(backends, weight=100)
    routes.write_text(good)
    assert await wait_version(session, proxy.url + "/", "canary", 3.0) < 3.0
    # and so does SIGHUP (a change polling cannot see: same size, inode and mtime)
    stat = routes.stat()
    rewrite_in_place(routes, good.replace('"weight": 100', '"weight":   0'))
    os.utime(routes, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    proxy.proc.send_signal(signal.SIGHUP)
    proxy.wait_for("routes reloaded")
    assert await versions(session, proxy.url + "/", 20) == {"stable": 20}


async def test_sigterm_drains_requests_in_flight(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends))
    proxy = start(spawn, routes).started()
    backends["stable"].delay = 1.0
    slow = [asyncio.create_task(session.get(proxy.url + f"/slow{i}")) for i in range(3)]
    await asyncio.sleep(0.4)
    proxy.proc.send_signal(signal.SIGTERM)
    for task in slow:
        resp = await task
        assert resp.status == 200
        assert resp.headers.get("Connection") == "close"
        resp.release()
    assert await asyncio.to_thread(proxy.proc.wait, 10) == 0
    with pytest.raises(aiohttp.ClientConnectionError):
        await session.get(proxy.url + "/")


async def test_workers_share_the_port_and_the_metrics(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends, weight=50))
    proxy = start(spawn, routes, "--workers", "2").started(workers=2)
    counts: dict[str, int] = {}
    for _ in range(20):  # new connections spread over both workers
        async with aiohttp.ClientSession() as fresh:
            got = await versions(fresh, proxy.url + "/", 10, concurrency=2)
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
    assert sum(counts.values()) == 200
    assert abs(counts["canary"] - 100) <= 2  # each worker is exact; a cycle may be open in each
    await asyncio.sleep(1.5)
    async with session.get(f"http://127.0.0.1:{proxy.admin}/metrics") as r:
        text = await r.text()
    total = sum(int(n) for n in re.findall(
        r'canarist_proxy_requests_total\{route="web",version="\w+",code="2xx"\} (\d+)', text))
    assert total == 200


async def test_admin_summary_and_health(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends, weight=10))
    proxy = start(spawn, routes).started()
    await versions(session, proxy.url + "/", 100)
    admin = f"http://127.0.0.1:{proxy.admin}"
    async with session.get(admin + "/summary?window=30") as r:
        summary = await r.json()
    assert summary["windowSeconds"] == 30
    canary = summary["routes"]["web"]["canary"]
    assert canary["requests"] == 10 and canary["successRate"] == 1.0
    assert set(canary["latencyMs"]) == {"p50", "p95", "p99"}
    async with session.get(admin + "/summary?window=0") as r:
        assert r.status == 400
        assert "window must be an integer between 1 and 60" in (await r.json())["error"]
    async with session.get(admin + "/healthz") as r:
        assert await r.text() == "ok\n"


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found
    return int(found[1])


@pytest.mark.slow
async def test_a_1gb_upload_and_a_large_download_keep_memory_bounded(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends))
    proxy = start(spawn, routes).started()
    async with session.get(proxy.url + "/") as r:
        await r.read()
    before = peak_rss_kib(proxy.proc.pid)
    block = b"u" * (1 << 20)

    async def upload():
        for _ in range(1024):
            yield block

    timeout = aiohttp.ClientTimeout(total=300)
    async with session.post(proxy.url + "/count", data=upload(), timeout=timeout) as r:
        assert (await r.json())["size"] == 1 << 30
    async with session.get(proxy.url + "/big?mb=256", timeout=timeout) as r:
        got = 0
        async for chunk in r.content.iter_chunked(1 << 16):
            got += len(chunk)
            if got % (1 << 24) < (1 << 16):
                await asyncio.sleep(0.01)  # a slow reader: the proxy must pause its upstream
        assert got == 256 << 20
    growth_mib = (peak_rss_kib(proxy.proc.pid) - before) / 1024
    assert growth_mib < 48, f"proxy peak RSS grew by {growth_mib:.0f} MiB"


def rss_kib(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found
    return int(found[1])


@pytest.mark.slow
async def test_huge_heads_are_refused_without_growing_memory(
    tmp_path: Path, backends: dict[str, Backend], spawn: list[Running],
    session: aiohttp.ClientSession,
) -> None:
    """Four clients each send a 64 MiB header: each gets 431 after the head's budget, and the
    proxy's memory stays where it was (the parser is never fed more than 32 KiB of a head)."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text(backends))
    proxy = start(spawn, routes).started()
    async with session.get(proxy.url + "/") as r:
        await r.read()
    peak_before, rss_before = peak_rss_kib(proxy.proc.pid), rss_kib(proxy.proc.pid)
    block = b"h" * (1 << 20)

    async def huge_head() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        answer = asyncio.create_task(read_response(reader))
        writer.write(b"GET / HTTP/1.1\r\nHost: web\r\nX-Huge: ")
        try:
            for _ in range(64):
                writer.write(block)
                await writer.drain()
        except ConnectionError:
            pass  # the proxy stopped listening (it answered long before)
        status = (await answer)[0]
        writer.close()
        return status

    assert await asyncio.gather(*(huge_head() for _ in range(4))) == [431] * 4
    peak_growth = (peak_rss_kib(proxy.proc.pid) - peak_before) / 1024
    held = (rss_kib(proxy.proc.pid) - rss_before) / 1024
    assert peak_growth < 16, f"peak RSS grew by {peak_growth:.0f} MiB"
    assert held < 8, f"RSS stayed {held:.0f} MiB above where it was"
    assert backends["stable"].seen[1:] == []
