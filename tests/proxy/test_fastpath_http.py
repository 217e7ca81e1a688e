"""The hot path's shortcuts keep every behaviour: cached request plans (a head seen before is not
parsed again) and whole simple responses (one write, no response parser) answer exactly as the
general path does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.proxy.conftest import Backend, ProxyFactory, routes_text
from webhook.proxy.plan import BLOCKS, PLANS, SEEN

HEAD = b"GET /same?x=1 HTTP/1.1\r\nHost: web.local\r\nX-Trace: t\r\n\r\n"


async def ask(port: int, data: bytes, *, local: str = "127.0.0.1", answers: int = 1) -> bytes:
    """Send ``data`` in one write from ``local``; read until ``answers`` complete answers
    (Content-Length framed) came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    writer.write(data)
    got = b""
    try:
        async with asyncio.timeout(5):
            while _complete(got) < answers:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
    finally:
        writer.close()
    return got


def _complete(data: bytes) -> int:
    n = 0
    while (end := data.find(b"\r\n\r\n")) >= 0:
        head = data[:end].lower()
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) \
            if b"content-length: " in head else 0
        if len(data) < end + 4 + length:
            break
        data = data[end + 4 + length:]
        n += 1
    return n


async def test_a_cached_head_still_carries_each_clients_own_address(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    PLANS.clear()
    for local in ("127.0.0.5", "127.0.0.6", "127.0.0.5"):
        answer = await ask(proxy.server.port, HEAD, local=local)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert HEAD in PLANS  # seen once, planned once
    seen = backends["stable"].seen
    assert [dict(s.headers)["X-Forwarded-For"] for s in seen] == [
        "127.0.0.5", "127.0.0.6", "127.0.0.5"]
    assert all(s.path == "/same?x=1" and dict(s.headers)["X-Trace"] == "t" for s in seen)


async def test_a_known_header_block_under_new_paths_is_routed_by_each_path(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    routes = {"routes": [
        {"name": "web", "stable": {"endpoints": [backends["stable"].address]}},
        {"name": "api", "pathPrefix": "/api", "stable": {"endpoints": [
            backends["canary"].address]}},
    ]}
    proxy = await make_proxy(json.dumps(routes))
    PLANS.clear()
    BLOCKS.clear()
    SEEN.clear()
    block = b"Host: web.local\r\nX-Trace: t\r\n\r\n"
    paths = [b"/one", b"/two", b"/api/three", b"/four?x=1", b"/api"]
    for i, path in enumerate(paths):
        local = "127.0.0.5" if i % 2 else "127.0.0.6"
        answer = await ask(proxy.server.port, b"GET " + path + b" HTTP/1.1\r\n" + block,
                           local=local)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert block in BLOCKS  # from the second request on, the headers were not parsed again
    stable, canary = backends["stable"].seen, backends["canary"].seen
    assert [s.path for s in stable] == ["/one", "/two", "/four?x=1"]
    assert [s.path for s in canary] == ["/api/three", "/api"]
    assert [dict(s.headers)["X-Forwarded-For"] for s in stable + canary] == [
        "127.0.0.6", "127.0.0.5", "127.0.0.5", "127.0.0.6", "127.0.0.6"]


async def test_a_cached_head_follows_a_new_table(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    from webhook.spec.routetable import parse_route_table

    proxy = await make_proxy(routes_text(backends))
    port = proxy.server.port
    assert (await ask(port, HEAD)).startswith(b"HTTP/1.1 200")
    proxy.swap(parse_route_table(routes_text(backends, hosts=["other.local"])))
    answer = await ask(port, HEAD)
    assert answer.startswith(b"HTTP/1.1 404") and b"no route for host 'web.local'" in answer
    proxy.swap(parse_route_table(routes_text(backends, weight=100)))
    answer = await ask(port, HEAD)
    assert b"x-canarist-version: canary" in answer


async def test_repeated_heads_on_one_connection_split_exactly(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    """Keep-alive repeats of one head: each is decided on its own (the split runs per request)."""
    proxy = await make_proxy(routes_text(backends, weight=25))
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.server.port)
    versions = []
    for _ in range(40):
        writer.write(HEAD)
        data = b""
        while _complete(data) < 1:
            data += await reader.read(65536)
        versions.append(data.split(b"x-canarist-version: ")[1].split(b"\r\n")[0])
    writer.close()
    assert versions.count(b"canary") == 10
    assert versions[:4] == [b"stable", b"stable", b"canary", b"stable"]  # smooth, never bursty


Upstream = Callable[[list[bytes]], Awaitable[int]]


@pytest.fixture
async def raw_upstream() -> AsyncIterator[Upstream]:
    """An upstream that answers every request with the given pieces, each in its own write."""
    servers: list[asyncio.Server] = []

    async def make(pieces: list[bytes]) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)

        server = await asyncio.start_server(serve, "127.0.0.7", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield make
    for server in servers:
        server.close()


ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: 1\r\nConnection: keep-alive\r\n"
          b"Content-Length: 5\r\n\r\n", b"hello")


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "head-then-body"])
async def test_whole_and_split_answers_look_the_same(
    raw_upstream: Upstream, make_proxy: ProxyFactory, split: bool,
) -> None:
    pieces = list(ANSWER) if split else [b"".join(ANSWER)]
    port = await raw_upstream(pieces)
    routes = json.dumps({"routes": [{"name": "web", "stable": {"endpoints": [
        f"127.0.0.7:{port}"]}}]})
    proxy = await make_proxy(routes)
    # twice on one connection: the second answer comes over the pooled upstream connection
    answer = await ask(proxy.server.port, HEAD)
    again = await ask(proxy.server.port, HEAD + HEAD, answers=2)
    expected = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: 1\r\nContent-Length: 5"
                b"\r\nx-canarist-version: stable\r\n\r\nhello")
    assert answer == expected
    assert again == expected * 2
    assert len(proxy.server.ctx.pool.idle[next(iter(proxy.server.ctx.pool.idle))]) == 1


async def test_an_answer_whose_upstream_closes_is_not_pooled(
    raw_upstream: Upstream, make_proxy: ProxyFactory,
) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    port = await raw_upstream([closing])
    routes = json.dumps({"routes": [{"name": "web", "stable": {"endpoints": [
        f"127.0.0.7:{port}"]}}]})
    proxy = await make_proxy(routes)
    for _ in range(3):
        answer = await ask(proxy.server.port, HEAD)
        assert answer.endswith(b"\r\n\r\nok") and answer.startswith(b"HTTP/1.1 200 OK")
    assert sum(len(c) for c in proxy.server.ctx.pool.idle.values()) == 0


async def test_head_answers_with_a_length_but_no_body(
    raw_upstream: Upstream, make_proxy: ProxyFactory,
) -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    port = await raw_upstream([head_answer])
    routes = json.dumps({"routes": [{"name": "web", "stable": {"endpoints": [
        f"127.0.0.7:{port}"]}}]})
    proxy = await make_proxy(routes)
    request = HEAD.replace(b"GET", b"HEAD", 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.server.port)
    for _ in range(3):  # the connection stays usable: no body was awaited
        writer.write(request)
        data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert data.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")
    writer.close()
