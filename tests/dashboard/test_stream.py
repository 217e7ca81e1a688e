"""Server-sent events: what proxies need (headers, no compression, heartbeats), resuming with
``Last-Event-ID``, and one cache for every stream (the dashboard sends no API request when
pages open)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.dashboard.release import Cluster, Dashboard, DashboardProcess
from webhook.cluster.runtime import RunningCluster
from webhook.dashboard.serve import serve
from webhook.dashboard.state import Options
from webhook.kube.config import ClientOptions

pytestmark = pytest.mark.slow


class Stream:
    """One open event stream, read event by event."""

    def __init__(self, d: Dashboard, path: str, headers: dict[str, str] | None = None
                 ) -> None:
        url = urlsplit(d.url)
        self.conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        self.conn.request("GET", path, headers=dict(headers or {}))
        self.resp = self.conn.getresponse()

    def event(self, within: float = 30.0) -> dict[str, Any]:
        """The next event (comments and ``retry`` skipped): ``{"id", "event", "data"}``."""
        end = time.monotonic() + within
        got: dict[str, Any] = {}
        while time.monotonic() < end:
            line = self.resp.readline().decode()
            if line in ("\n", ""):
                if "data" in got:
                    return got
                if line == "":
                    raise AssertionError("the stream ended")
                continue
            field, _, value = line.rstrip("\n").partition(": ")
            if field == "data":
                got["data"] = json.loads(value)
            elif field in ("id", "event"):
                got[field] = value
        raise AssertionError("no event in time")

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def stream(d: Dashboard, path: str, headers: dict[str, str] | None = None
           ) -> Iterator[Stream]:
    s = Stream(d, path, headers)
    try:
        yield s
    finally:
        s.close()


def test_headers_snapshot_changes_and_resume(dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("sse")
    kube.deploy(ns, "web")
    with stream(dashboard, "/api/v1/stream", {"Accept-Encoding": "gzip, br"}) as s:
        assert s.resp.status == 200
        assert s.resp.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert s.resp.getheader("X-Accel-Buffering") == "no"
        assert s.resp.getheader("Cache-Control") == "no-cache, no-transform"
        assert s.resp.getheader("Content-Encoding") is None
        first = s.event()
        assert first["event"] == "snapshot"
        assert f"{ns}/web" in {r["key"] for r in first["data"]["items"]}
        kube.release(ns, "web")
        while True:  # other tests' releases may change too: wait for ours
            ev = s.event()
            assert ev["event"] == "changes"
            mine = [r for r in ev["data"]["upserts"] if r["key"] == f"{ns}/web"]
            if mine and mine[0]["phase"] == "Paused" and mine[0]["weight"] == 20:
                last = ev["id"]
                break
    # reconnecting with Last-Event-ID: what changed since, not everything again
    kube.annotate(ns, "web", "pause")
    kube.wait(ns, "web", "the pause", lambda st, _: st.extra.get("userPaused") is True)
    with stream(dashboard, "/api/v1/stream", {"Last-Event-ID": last}) as s:
        # only what changed since ``last`` (never a snapshot), until the pause shows: the
        # dashboard may see it a moment after the test does
        while True:
            ev = s.event()
            assert ev["event"] == "changes"
            if any(r["key"] == f"{ns}/web" and r["userPaused"] for r in ev["data"]["upserts"]):
                break
    # an id the server no longer knows gets the whole list
    with stream(dashboard, "/api/v1/stream", {"Last-Event-ID": "999999999"}) as s:
        assert s.event()["event"] == "snapshot"


def test_a_release_stream(dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("ssed")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    with stream(dashboard, f"/api/v1/releases/{ns}/web/stream") as s:
        first = s.event()
        assert first["event"] == "release" and first["data"]["stepText"] == "2/4"
        kube.annotate(ns, "web", "promote")
        while True:
            ev = s.event()
            assert ev["event"] == "release"
            if ev["data"]["weight"] == 50:
                break
        kube.client.delete(kube.ref(ns, "web"))
        while (ev := s.event())["event"] == "release":
            pass
        assert ev["event"] == "gone"


def test_one_cache_for_twenty_streams(dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("many")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    before = dashboard.metric("canarist_dashboard_api_requests_total")
    streams = []
    try:
        for i in range(20):
            path = "/api/v1/stream" if i % 2 else f"/api/v1/releases/{ns}/web/stream"
            s = Stream(dashboard, path)
            s.event()
            streams.append(s)
        end = time.monotonic() + 15  # streams of earlier tests end as their sockets close
        while dashboard.metric("canarist_dashboard_streams") != 20:
            assert time.monotonic() < end, dashboard.metric("canarist_dashboard_streams")
            time.sleep(0.1)
        kube.annotate(ns, "web", "promote")
        for s in streams:  # every stream hears of it
            while True:
                ev = s.event()
                rows = ev["data"].get("upserts", [ev["data"]])
                if any(r.get("key") == f"{ns}/web" and r.get("weight") == 50 for r in rows):
                    break
        after = dashboard.metric("canarist_dashboard_api_requests_total")
        assert after == before  # the pages cost the API server nothing: the cache serves them
    finally:
        for s in streams:
            s.close()


def test_heartbeats_keep_an_idle_stream_open(product: RunningCluster) -> None:
    """The app itself (heartbeat 0.3 s) on a loop of its own: an idle stream gets a comment
    line at each heartbeat, which keeps proxies from closing it."""
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    out = io.StringIO()
    started = threading.Event()

    async def main() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        started.set()
        await serve(Options(heartbeat=0.3), ClientOptions(kubeconfig=str(product.kubeconfig)),
                    "127.0.0.1", 0, stop, out)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        end = time.monotonic() + 30
        while "http://" not in out.getvalue():
            assert time.monotonic() < end, "the dashboard did not start"
            time.sleep(0.05)
        d = Dashboard(out.getvalue().split("on ", 1)[1].split()[0])
        d.wait_healthy()
        with stream(d, "/api/v1/stream") as s:
            assert s.event()["event"] == "snapshot"
            lines: list[bytes] = []
            end = time.monotonic() + 10
            while lines.count(b": keep-alive\n") < 2:  # (events of other releases may come too)
                assert time.monotonic() < end, lines[-6:]
                lines.append(s.resp.readline())
    finally:
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(15)


def test_sigterm_ends_open_streams_and_exits(product: RunningCluster) -> None:
    with DashboardProcess.run(product.kubeconfig) as d, stream(d, "/api/v1/stream") as s:
        assert s.event()["event"] == "snapshot"
        t = time.monotonic()
        d.proc.terminate()
        assert d.proc.wait(15) == 0
        assert time.monotonic() - t < 10
        assert s.resp.readline() in (b"", b"\r\n", b"\n")  # the stream ended, it did not hang
