"""Proxying done right: headers, framing, keep-alive, upgrades and upstream failures."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.proxy.conftest import Backend, ProxyFactory, routes_text


async def raw_exchange(port: int, data: bytes, *, until: bytes, count: int = 1,
                       within: float = 5.0) -> bytes:
    """Send raw bytes; read until ``until`` was seen ``count`` times or the proxy closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    got = b""
    try:
        async with asyncio.timeout(within):
            while got.count(until) < count:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
    finally:
        writer.close()
    return got


async def test_hop_by_hop_headers_are_removed_both_ways(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    headers = {"Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1", "Keep-Alive": "30",
               "TE": "trailers", "Proxy-Authorization": "Basic x", "X-Keep": "k",
               "X-Forwarded-For": "10.1.1.1", "Host": "web.local"}
    async with session.get(proxy.url + "/hop", headers=headers) as r:
        assert r.status == 200
        assert r.headers["X-Kept"] == "yes"
        for gone in ("X-Secret", "Keep-Alive", "Proxy-Authenticate"):
            assert gone not in r.headers
    got = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    for gone in ("x-drop-me", "keep-alive", "te", "proxy-authorization"):
        assert gone not in got
    assert got["x-keep"] == "k"
    assert got["x-forwarded-for"] == "127.0.0.1"  # set by the proxy (the client is not trusted)
    assert got["x-forwarded-proto"] == "http"
    assert got["x-forwarded-host"] == "web.local"
    assert got["host"] == "web.local"


async def test_chunked_bodies_stream_both_ways(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends))

    async def gen():
        for i in range(10):
            yield f"piece{i}-".encode()

    async with session.post(proxy.url + "/size", data=gen()) as r:
        assert (await r.json())["size"] == sum(len(f"piece{i}-") for i in range(10))
    async with session.get(proxy.url + "/stream") as r:
        assert r.headers.get("Transfer-Encoding") == "chunked"
        assert await r.text() == "".join(f"part{i};" for i in range(5))
    seen = backends["stable"].seen[0]
    assert ("Transfer-Encoding", "chunked") in seen.headers


async def test_keep_alive_on_both_sides_and_pipelining(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    requests = b"".join(
        b"GET /r%d HTTP/1.1\r\nHost: web\r\n\r\n" % i for i in range(5)
    ) + b"POST /r5 HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc"
    got = await raw_exchange(proxy.server.port, requests, until=b"HTTP/1.1 ", count=6)
    answers = got.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 6
    assert all(a.startswith(b"200 ") for a in answers)
    assert [s.path for s in backends["stable"].seen] == [f"/r{i}" for i in range(6)]
    assert backends["stable"].seen[-1].body == b"abc"
    # the upstream side reused one pooled connection
    assert proxy.server.ctx.pool.idle_count() == 1


async def test_head_and_http10(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    got = await raw_exchange(proxy.server.port, b"HEAD / HTTP/1.1\r\nHost: w\r\n\r\n"
                             b"GET /stream HTTP/1.0\r\nHost: w\r\n\r\n", until=b"part4;")
    head, rest = got.split(b"HTTP/1.1 200", 2)[1:]
    assert b"Content-Length:" in head and b"{" not in head
    assert b"Connection: close" in rest and b"Transfer-Encoding" not in rest
    assert rest.endswith(b"part0;part1;part2;part3;part4;")


async def test_websocket_upgrade_passes_through(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=100))
    async with session.ws_connect(proxy.url + "/ws") as ws:
        for text in ("hello", "again"):
            await ws.send_str(text)
            msg = await ws.receive(timeout=5)
            assert msg.data == f"canary:{text}"
    assert proxy.server.ctx.metrics.snapshot()["series"][("web", "canary")][0][0] == 1  # one 101


async def test_dead_upstream_is_502_with_a_clear_body(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    await backends["canary"].stop()
    proxy = await make_proxy(routes_text(backends, weight=100))
    async with session.get(proxy.url + "/") as r:
        assert r.status == 502
        body = await r.text()
        assert f"cannot connect to upstream {backends['canary'].address}" in body
        assert r.headers["x-canarist-version"] == "canary"
    assert proxy.server.ctx.metrics.snapshot()["series"][("web", "canary")][1] == 1


async def test_slow_upstream_is_504(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    backends["stable"].delay = 1.0
    proxy = await make_proxy(routes_text(backends), upstream_timeout=0.2)
    async with session.get(proxy.url + "/") as r:
        assert r.status == 504
        assert "did not respond within 0.2s" in await r.text()
    backends["stable"].delay = 0
    async with session.get(proxy.url + "/") as r:
        assert r.status == 200


async def test_pooled_connection_closed_by_the_upstream_is_noticed(
    make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # keep-alive promised, then closed while idle

    server = await asyncio.start_server(handle, "127.0.0.5", 0)
    port = server.sockets[0].getsockname()[1]
    text = f'{{"routes": [{{"name": "web", "stable": {{"endpoints": ["127.0.0.5:{port}"]}}}}]}}'
    proxy = await make_proxy(text)
    for _ in range(3):
        async with session.get(proxy.url + "/") as r:
            assert r.status == 200 and await r.text() == "ok"
        await asyncio.sleep(0.15)
        assert proxy.server.ctx.pool.idle_count() == 0
    assert served == 3
    server.close()


async def test_malformed_request_is_400(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    got = await raw_exchange(proxy.server.port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                             until=b"\n\n")
    assert got.startswith(b"HTTP/1.1 400 Bad Request")


async def test_a_slow_reader_leaves_the_pooled_connection_usable(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends), upstream_timeout=2)
    async with session.get(proxy.url + "/big?mb=16") as r:
        got = 0
        async for chunk in r.content.iter_chunked(1 << 16):
            got += len(chunk)
            if got % (1 << 20) < (1 << 16):
                await asyncio.sleep(0.01)  # slower than the upstream: the proxy pauses it
        assert got == 16 << 20
    assert proxy.server.ctx.pool.idle_count() == 1
    for _ in range(5):
        async with session.get(proxy.url + "/") as r:
            assert r.status == 200


async def test_a_connection_given_back_while_paused_reads_again(
    backends: dict[str, Backend],
) -> None:
    from webhook.proxy.upstream import Pool
    from webhook.spec.routetable import Endpoint

    pool = Pool(asyncio.get_running_loop())
    endpoint = Endpoint("127.0.0.2", backends["stable"].port)
    conn = await pool.connect(endpoint)
    assert conn.transport is not None
    conn.paused = True
    conn.transport.pause_reading()
    assert not conn.transport.is_reading()
    pool.give_back(conn)
    assert conn.transport.is_reading()
    assert pool.take(endpoint) is conn
    pool.close()
