"""Real backends on loopback addresses and an in-process proxy in front of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.proxy.context import ProxyOptions
from webhook.proxy.server import ProxyServer
from webhook.proxy.table import static_endpoints
from webhook.spec.routetable import RouteTable, parse_route_table


@dataclass
class Seen:
    method: str
    path: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Backend:
    """An aiohttp server that answers with its name and records every request."""

    name: str
    host: str
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    delay: float = 0.0
    status: int = 200
    runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, list(request.headers.items()),
                              body))
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.path == "/stream":
            resp = web.StreamResponse(headers={"X-Backend": self.name})
            await resp.prepare(request)
            for i in range(5):
                await resp.write(f"part{i};".encode())
            await resp.write_eof()
            return resp
        if request.path == "/hop":
            return web.Response(text="hop", headers={
                "X-Backend": self.name, "Connection": "keep-alive, X-Secret",
                "X-Secret": "s", "Keep-Alive": "timeout=5", "Proxy-Authenticate": "Basic",
                "X-Kept": "yes"})
        if request.path == "/size":
            return web.json_response({"backend": self.name, "size": len(body)})
        return web.json_response({"backend": self.name, "method": request.method,
                                  "path": request.path_qs, "len": len(body)},
                                 status=self.status, headers={"X-Backend": self.name})

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/count", self.count)
        app.router.add_get("/big", self.big)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        # roomier head limits than aiohttp's defaults: the proxy's own limits are under test
        self.runner = web.AppRunner(app, access_log=None, max_line_size=1 << 16,
                                    max_field_size=1 << 16, max_headers=1024)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(f"{self.name}:{msg.data}")
        return ws

    async def count(self, request: web.Request) -> web.Response:
        """Read a body of any size without keeping it; answer with its length."""
        total = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            total += len(chunk)
        return web.json_response({"backend": self.name, "size": total})

    async def big(self, request: web.Request) -> web.StreamResponse:
        """Stream ``?mb=N`` mebibytes without Content-Length."""
        resp = web.StreamResponse()
        await resp.prepare(request)
        block = b"z" * (1 << 20)
        for _ in range(int(request.query.get("mb", "1"))):
            await resp.write(block)
        await resp.write_eof()
        return resp

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def backends() -> AsyncIterator[dict[str, Backend]]:
    made = {"stable": Backend("stable", "127.0.0.2"), "canary": Backend("canary", "127.0.0.3"),
            "stable2": Backend("stable2", "127.0.0.4")}
    for b in made.values():
        await b.start()
    yield made
    for b in made.values():
        await b.stop()


def routes_text(backends: dict[str, Backend], **route: Any) -> str:
    """A one-route table (JSON is YAML) over the stable and canary backends."""
    body: dict[str, Any] = {
        "name": "web",
        "stable": {"endpoints": [backends["stable"].address]},
        "canary": {"endpoints": [backends["canary"].address]},
    }
    body.update(route)
    return json.dumps({"routes": [body]})


@dataclass
class Proxy:
    server: ProxyServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def swap(self, table: RouteTable) -> None:
        self.server.apply(table, static_endpoints)


ProxyFactory = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def make_proxy() -> AsyncIterator[ProxyFactory]:
    made: list[ProxyServer] = []

    async def make(text: str, **options: Any) -> Proxy:
        server = ProxyServer(parse_route_table(text), static_endpoints, ProxyOptions(**options))
        await server.start("127.0.0.1", 0)
        made.append(server)
        return Proxy(server)

    yield make
    for server in made:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


async def versions(session: aiohttp.ClientSession, url: str, n: int, concurrency: int = 16,
                   **kw: Any) -> dict[str, int]:
    """Send n requests from concurrent clients; count the x-canarist-version of the answers."""
    counts: dict[str, int] = {}
    todo = iter(range(n))

    async def client() -> None:
        for _ in todo:
            async with session.get(url, **kw) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
                v = resp.headers["x-canarist-version"]
                counts[v] = counts.get(v, 0) + 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return counts


@pytest.fixture(scope="session")
def proxy_cluster() -> Iterator[RunningCluster]:
    """An embedded cluster with canarist's admission webhook (the release tests run their own
    reconciler), shared by the cluster-mode tests; each test uses its own namespace."""
    cluster = start_in_thread(without=frozenset({"reconciler"}))
    try:
        yield cluster
    finally:
        cluster.stop()
