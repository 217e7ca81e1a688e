"""A real HTTPS front for the embedded API server that injects faults, for client tests.

It listens on loopback with its own trustme certificate, forwards every request (watch streams
included, chunk by chunk) to the cluster, and can, on request:

- answer the next N matching requests itself with a Status error (429 with Retry-After, 503...);
- refuse watch requests (503) while ``watches_blocked`` is set;
- cut every watch stream in flight (``drop_watches``) as a dying connection would.

It records every request (method, path, query, monotonic time) so tests can check what the
client asked for and when. It runs on its own event loop in a thread, like the cluster.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import trustme
import yaml
from aiohttp import web

from webhook.cluster.runtime import RunningCluster

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
        "content-encoding"}


@dataclass
class Fault:
    status: int
    count: int
    method: str | None = None
    path_contains: str | None = None
    retry_after: float | None = None
    body: bytes | None = None
    delay: float = 0.0  # with status 0: forward after this many seconds

    def matches(self, request: web.Request) -> bool:
        if self.method and request.method != self.method:
            return False
        return not (self.path_contains and self.path_contains not in request.path_qs)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Front:
    cluster: RunningCluster
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    watches_blocked: bool = False
    port: int = 0

    def __post_init__(self) -> None:
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self._watches: set[web.StreamResponse] = set()
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="kube-front")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- control (from the test thread) ---------------------------------------------------------

    def fail(self, status: int, count: int = 1, *, method: str | None = None,
             path_contains: str | None = None, retry_after: float | None = None,
             body: bytes | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(status, count, method, path_contains, retry_after, body))

    def slow(self, seconds: float, count: int = 1, *, method: str | None = None,
             path_contains: str | None = None) -> None:
        """Forward the next ``count`` matching requests only after ``seconds``."""
        with self._lock:
            self.faults.append(Fault(0, count, method, path_contains, delay=seconds))

    def drop_watches(self) -> int:
        dropped: int = self.call(self._drop())
        return dropped

    def requests(self, method: str | None = None, contains: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if (method is None or s.method == method)
                    and contains in s.path + "?" + "&".join(f"{k}={v}" for k, v in s.query.items())]

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        token = self.cluster.cluster.creds.token
        ca_pem = self.ca.cert_pem.bytes()
        doc = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "front", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "front", "context": {"cluster": "front", "user": "u",
                                                       "namespace": namespace}}],
            "current-context": "front",
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Front:
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    async def _start(self) -> None:
        upstream = ssl.create_default_context(
            cadata=self.cluster.cluster.creds.ca.cert_pem.decode())
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=upstream),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(ctx)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self._drop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        me = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not me]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _drop(self) -> int:
        n = 0
        for resp in list(self._watches):
            transport = resp._req.transport if resp._req is not None else None
            if transport is not None:
                transport.abort()
                n += 1
        self._watches.clear()
        return n

    # --- forwarding -----------------------------------------------------------------------------

    def _fault_for(self, request: web.Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(request):
                    fault.count -= 1
                    return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path, dict(request.query), time.monotonic())
        with self._lock:
            self.seen.append(seen)
        is_watch = request.query.get("watch") in ("1", "true")
        fault = self._fault_for(request)
        if fault is None and is_watch and self.watches_blocked:
            fault = Fault(503, 1)
        if fault is not None and fault.status == 0:
            await asyncio.sleep(fault.delay)
        elif fault is not None:
            seen.status = fault.status
            return self._status(fault)
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        upstream = await self._session.request(
            request.method, self.cluster.url + request.path_qs, data=body or None,
            headers=headers)
        seen.status = upstream.status
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        if not is_watch:
            data = await upstream.read()
            upstream.release()
            plain = web.Response(status=upstream.status, body=data)
            for k, v in out_headers.items():
                plain.headers.add(k, v)
            return plain
        resp = web.StreamResponse(status=upstream.status)
        for k, v in out_headers.items():
            resp.headers.add(k, v)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        self._watches.add(resp)
        try:
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
        except (ConnectionError, aiohttp.ClientError, RuntimeError):
            pass
        finally:
            self._watches.discard(resp)
            upstream.close()
        return resp

    def _status(self, fault: Fault) -> web.Response:
        body = fault.body if fault.body is not None else json.dumps({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"injected {fault.status}", "reason": "Injected", "code": fault.status,
        }).encode()
        resp = web.Response(status=fault.status, body=body, content_type="application/json")
        if fault.retry_after is not None:
            resp.headers["Retry-After"] = f"{fault.retry_after:g}"
        return resp
