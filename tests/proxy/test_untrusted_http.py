"""What a client cannot do to the proxy, over raw sockets: oversized heads, forged Host and
forwarding headers, faulty framing, slow heads (RFC 9110/9112, nginx's limits)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest

from tests.admission.rawhttp import closed_by_peer, read_response
from tests.proxy.conftest import Backend, ProxyFactory, routes_text
from tests.proxy.test_proxying_http import raw_exchange
from webhook.spec.routetable import parse_route_table

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Conn]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        yield reader, writer
    finally:
        writer.close()


async def ask(port: int, data: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send ``data``; the status, headers and body of the answer, and whether the proxy then
    closed the connection (only looked at for a refusal)."""
    async with connected(port) as (reader, writer):
        writer.write(data)
        status, headers, body = await read_response(reader)
        return status, headers, body, status >= 400 and await closed_by_peer(reader, 5)


def head(*lines: bytes, target: bytes = b"/", version: bytes = b"HTTP/1.1") -> bytes:
    return b"GET " + target + b" " + version + b"\r\n" + b"".join(
        line + b"\r\n" for line in lines) + b"\r\n"


# -- limits on the request head (nginx: large_client_header_buffers 4 8k) --------------------

@pytest.mark.parametrize(("data", "status", "says"), [
    (head(b"Host: web", target=b"/" + b"a" * 8200), 414, "request target longer than 8192"),
    (head(b"Host: web", b"X-Big: " + b"b" * 8200), 431, "header field 'X-Big' longer than 8192"),
    (head(b"Host: web", *(b"X-N%d: 1" % i for i in range(100))), 431,
     "more than 100 header fields"),
    (head(b"Host: web", *(b"X-N%d: " % i + b"c" * 7000 for i in range(5))), 431,
     "request head larger than 32768 bytes"),
])
async def test_a_head_over_a_limit_is_refused_and_never_forwarded(
    backends: dict[str, Backend], make_proxy: ProxyFactory, data: bytes, status: int, says: str,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    got, _, body, closed = await ask(proxy.server.port, data)
    assert (got, closed) == (status, True)
    assert says in body.decode()
    assert backends["stable"].seen == []


async def test_heads_at_the_limits_pass(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    fields = [b"Host: web", *(b"X-N%d: 1" % i for i in range(99))]
    for data in (head(b"Host: web", target=b"/" + b"a" * 8191),
                 head(b"Host: web", b"X-Big: " + b"b" * (8190 - 5)),
                 head(*fields)):
        status, _, _, _ = await ask(proxy.server.port, data)
        assert status == 200
    assert len(backends["stable"].seen) == 3


async def test_each_head_on_a_connection_has_the_whole_budget(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    big = head(b"Host: web", *(b"X-N%d: " % i + b"c" * 7000 for i in range(4)))  # 28 KiB
    second = head(b"Host: web", *(b"X-M%d: " % i + b"d" * 7000 for i in range(2)))  # 14 KiB
    async with connected(proxy.server.port) as (reader, writer):
        writer.write(big[:20000])  # over two reads
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(big[20000:])
        assert (await read_response(reader))[0] == 200
        writer.write(second)  # in one read
        assert (await read_response(reader))[0] == 200


async def test_the_limits_are_options(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends), max_uri_bytes=16, max_fields=3,
                             max_field_bytes=64, max_head_bytes=1024)
    port = proxy.server.port
    assert (await ask(port, head(b"Host: web", target=b"/" + b"a" * 16)))[0] == 414
    assert (await ask(port, head(b"Host: web", b"A: 1", b"B: 2", b"C: 3")))[0] == 431
    assert (await ask(port, head(b"Host: web", b"A: " + b"a" * 62)))[0] == 431
    assert (await ask(port, head(b"Host: web", b"A: " + b"a" * 59)))[0] == 200


async def test_a_known_header_block_does_not_let_a_long_target_skip_its_limit(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    """A request line before a header block seen before skips the parser (docs/proxy.md,
    Design); its target is still held to the limit."""
    proxy = await make_proxy(routes_text(backends), max_uri_bytes=100)
    for _ in range(3):
        assert await ask_keep(proxy.server.port, head(b"Host: web", target=b"/short")) == 200
    status, _, _, _ = await ask(proxy.server.port, head(b"Host: web", target=b"/" + b"a" * 200))
    assert status == 414


async def test_a_huge_head_is_refused_at_the_budget_not_read_whole(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    """The answer comes after the budget's bytes, while the client is still sending: the proxy
    does not wait for (nor buffer) the rest of a 64 MiB header."""
    proxy = await make_proxy(routes_text(backends))
    async with connected(proxy.server.port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: web\r\nX-Huge: " + b"h" * (64 << 10))
        status, _, body = await read_response(reader)
        assert status == 431 and b"larger than 32768 bytes" in body
        for _ in range(16):  # more of it is read and thrown away until the client stops
            writer.write(b"h" * (1 << 20))
            await writer.drain()
        assert await closed_by_peer(reader, 10)
    assert backends["stable"].seen == []


async def test_a_long_head_over_many_reads_is_bounded_too(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    async with connected(proxy.server.port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: web\r\n")
        for i in range(300):  # small fields, over many reads
            writer.write(b"X-F%d: v\r\n" % i)
            await writer.drain()
            await asyncio.sleep(0.001)
        status, _, body = await read_response(reader)
    assert status == 431 and b"more than 100 header fields" in body


# -- Host and forwarding headers --------------------------------------------------------------

async def test_two_host_headers_are_400(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    status, _, body, closed = await ask(proxy.server.port, head(b"Host: web", b"Host: other"))
    assert (status, closed) == (400, True)
    assert b"more than one Host header" in body
    assert backends["stable"].seen == []


async def test_http11_without_host_is_400_and_http10_without_host_takes_a_route_for_any_host(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    status, _, body, _ = await ask(proxy.server.port, head(b"Accept: */*"))
    assert status == 400 and b"without a Host header" in body
    status, _, body, _ = await ask(proxy.server.port, head(version=b"HTTP/1.0"))
    assert status == 200 and json.loads(body)["backend"] == "stable"
    # a table whose routes all name hosts has nothing for a request without one
    proxy.swap(parse_route_table(routes_text(backends, hosts=["web.example"])))
    status, _, _, _ = await ask(proxy.server.port, head(version=b"HTTP/1.0"))
    assert status == 404


async def test_forwarding_headers_come_from_the_proxy(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    forged = head(b"Host: web.local", b"X-Forwarded-For: 10.9.9.9",
                  b"X-Forwarded-Host: admin.internal", b"X-Forwarded-Proto: https")
    assert (await ask(proxy.server.port, forged))[0] == 200
    got = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert got["x-forwarded-host"] == "web.local"
    assert got["x-forwarded-proto"] == "http"


async def test_a_trusted_proxy_keeps_its_forwarding_headers(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends), trusted_proxies=("127.0.0.0/8",))
    forwarded = head(b"Host: web.local", b"X-Forwarded-For: 203.0.113.5",
                     b"X-Forwarded-Host: shop.example", b"X-Forwarded-Proto: https")
    assert (await ask(proxy.server.port, forwarded))[0] == 200
    got = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    assert got["x-forwarded-for"] == "203.0.113.5, 127.0.0.1"
    assert got["x-forwarded-host"] == "shop.example"
    assert got["x-forwarded-proto"] == "https"
    # a peer outside the list is not trusted
    other = await make_proxy(routes_text(backends), trusted_proxies=("10.0.0.0/8", "::1"))
    assert (await ask(other.server.port, forwarded))[0] == 200
    got = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    assert (got["x-forwarded-for"], got["x-forwarded-host"]) == ("127.0.0.1", "web.local")


async def test_connection_cannot_strip_the_host_upstream(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    data = head(b"Host: web.local", b"Connection: keep-alive, Host, X-Drop", b"X-Drop: 1")
    assert (await ask_keep(proxy.server.port, data)) == 200
    got = {k.lower(): v for k, v in backends["stable"].seen[-1].headers}
    assert got["host"] == "web.local"
    assert "x-drop" not in got


async def ask_keep(port: int, data: bytes) -> int:
    async with connected(port) as (reader, writer):
        writer.write(data)
        status, _, _ = await read_response(reader)
        return status


# -- faulty framing ---------------------------------------------------------------------------

async def test_http10_with_transfer_encoding_is_400_and_never_forwarded(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    smuggle = (b"POST / HTTP/1.0\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web\r\n\r\n")
    status, _, body, closed = await ask(proxy.server.port, smuggle)
    assert (status, closed) == (400, True)
    assert b"HTTP/1.0 request with Transfer-Encoding" in body
    assert backends["stable"].seen == []


@pytest.mark.parametrize("chunks", [
    [b"zz\r\nabc\r\n0\r\n\r\n"],  # in the read that holds the head
    [b"3\r\nabc\r\n", b"-1\r\nx\r\n0\r\n\r\n"],  # after a good chunk went upstream
    [b"3\r\nabc\r\n", b"ffffffffffffffffff\r\n"],  # a size past 64 bits
])
async def test_an_invalid_chunk_size_is_400_before_any_answer(
    backends: dict[str, Backend], make_proxy: ProxyFactory, chunks: list[bytes],
) -> None:
    proxy = await make_proxy(routes_text(backends))
    async with connected(proxy.server.port) as (reader, writer):
        writer.write(b"POST /size HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + chunks[0])
        for more in chunks[1:]:
            await asyncio.sleep(0.2)  # the first part reached the upstream
            writer.write(more)
        status, _, body = await read_response(reader)
        assert status == 400 and b"malformed HTTP request" in body
        assert await closed_by_peer(reader, 5)
    # the upstream never got a whole request (a connection that got part of one was dropped)
    assert backends["stable"].seen == []


async def test_a_bad_pipelined_request_is_answered_after_the_good_one(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends))
    backends["stable"].delay = 0.3
    got = await raw_exchange(proxy.server.port, head(b"Host: web") + head(b"Host: a", b"Host: b"),
                             until=b"HTTP/1.1 ", count=2)
    first, second = got.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 ") and b"Connection: close" in first
    assert second.startswith(b"400 ") and b"more than one Host header" in second


# -- slow heads (nginx: client_header_timeout) ------------------------------------------------

async def test_a_slow_head_is_closed_after_the_header_timeout(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends), header_timeout=0.5, keepalive_timeout=300)
    port = proxy.server.port
    async with connected(port) as (reader, writer):
        loop = asyncio.get_running_loop()
        start = loop.time()
        writer.write(b"GET / HTTP/1.1\r\nHost: web\r\n")
        answer = b""
        while loop.time() - start < 10:  # one header line every 0.1 s, never the end
            writer.write(b"X-Slow: 1\r\n")
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(1 << 16), 0.1)
                break
        took = loop.time() - start
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert 0.5 <= took < 5, took
        assert await closed_by_peer(reader, 5)
        # meanwhile others were served
        assert await ask_keep(port, head(b"Host: web")) == 200


async def test_a_silent_connection_is_closed_after_the_header_timeout(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(routes_text(backends), header_timeout=0.5, keepalive_timeout=300)
    async with connected(proxy.server.port) as (reader, _):
        assert await reader.read() == b""  # closed without an answer, as nginx does
    # an idle keep-alive connection waits for the keep-alive timeout instead
    async with connected(proxy.server.port) as (reader, writer):
        writer.write(head(b"Host: web"))
        assert (await read_response(reader))[0] == 200
        assert not await closed_by_peer(reader, 1.5)


async def test_nothing_read_after_an_answer_that_closes_the_connection_is_forwarded(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    """A 404 given before the request's body arrived closes the connection: a request behind
    it in the same read is not sent upstream (it was, found by scripts/fuzz_proxy.py)."""
    proxy = await make_proxy(routes_text(backends, hosts=["web"]))
    assert await ask_keep(proxy.server.port, head(b"Host: web")) == 200  # one pooled upstream
    got = await raw_exchange(proxy.server.port,
                             b"POST / HTTP/1.1\r\nHost: nowhere\r\nContent-Length: 5\r\n\r\nhello"
                             b"GET /after HTTP/1.1\r\nHost: web\r\n\r\n", until=b"HTTP/1.1 ",
                             count=2, within=2)
    assert got.startswith(b"HTTP/1.1 404 ") and got.count(b"HTTP/1.1 ") == 1
    await asyncio.sleep(0.3)
    assert [seen.path for seen in backends["stable"].seen] == ["/"]
