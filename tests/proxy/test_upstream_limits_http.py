"""What an upstream cannot do to the proxy: response heads are bounded (nginx:
``proxy_buffer_size``) and a head over a limit is a 502, over raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.admission.rawhttp import read_response
from tests.proxy.conftest import ProxyFactory
from tests.proxy.processkit import Running, peak_rss_kib, rss_kib, start
from tests.proxy.test_untrusted_http import connected, head

MIB = 1 << 20


class RawUpstream:
    """An upstream that answers each request head with ``answer()``'s bytes, written as they
    come, and counts what it managed to send (a proxy that gives up resets the connection)."""

    def __init__(self, answer: Callable[[], list[bytes]], host: str = "127.0.0.5") -> None:
        self.answer = answer
        self.host = host
        self.port = 0
        self.sent: list[int] = []  # bytes written per answer before it ended or broke
        self.closed = 0  # connections ended
        self.server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                sent = 0
                self.sent.append(0)
                for part in self.answer():
                    writer.write(part)
                    await writer.drain()
                    sent += len(part)
                    self.sent[-1] = sent
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.closed += 1

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


@contextlib.asynccontextmanager
async def raw_upstream(answer: Callable[[], list[bytes]]) -> AsyncIterator[RawUpstream]:
    upstream = RawUpstream(answer)
    await upstream.start()
    try:
        yield upstream
    finally:
        await upstream.stop()


async def ask(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data``; the status, headers and body of the answer."""
    async with connected(port) as (reader, writer):
        writer.write(data)
        return await read_response(reader)


def routes_to(upstream: RawUpstream) -> str:
    return json.dumps({"routes": [{"name": "web", "stable": {"endpoints": [upstream.address]}}]})


def response(*fields: bytes, status: bytes = b"200 OK", body: bytes = b"ok") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\n" + b"".join(f + b"\r\n" for f in fields)
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def huge_field() -> list[bytes]:
    """A head whose one field goes on for 64 MiB (and never ends)."""
    block = b"h" * MIB
    return [b"HTTP/1.1 200 OK\r\nX-Huge: ", *([block] * 64)]


@pytest.mark.parametrize(("answer", "says"), [
    # many fields, each short: the head is too large
    (response(*(b"X-F%d: " % i + b"v" * 1000 for i in range(40))),
     "a response head larger than 32768 bytes"),
    # one field too long
    (response(b"X-Long: " + b"v" * 8200), "a response head line longer than 8192 bytes"),
    (response(status=b"200 " + b"O" * 8200), "a response head line longer than 8192 bytes"),
    # the final head after an interim one is judged too
    (b"HTTP/1.1 100 Continue\r\n\r\n" + response(b"X-Long: " + b"v" * 8200),
     "a response head line longer than 8192 bytes"),
])
async def test_an_upstream_head_over_a_limit_is_502(
    make_proxy: ProxyFactory, answer: bytes, says: str,
) -> None:
    async with raw_upstream(lambda: [answer]) as upstream:
        proxy = await make_proxy(routes_to(upstream))
        status, _, body = await ask(proxy.server.port, head(b"Host: web"))
    assert status == 502, body
    assert body.decode() == f"upstream {upstream.address} failed before responding: {says}\n"


def sized(head_bytes: int) -> bytes:
    """An answer whose head is exactly ``head_bytes`` long, in lines of at most 8000 bytes."""
    fields: list[bytes] = []
    left = head_bytes - response().index(b"\r\n\r\n") - 4
    while left > 0:
        cost = min(left, 8002)  # a line costs its length and its CRLF
        if 0 < left - cost < 16:
            cost -= 16
        name = b"X-F%d: " % len(fields)
        fields.append(name + b"w" * (cost - 2 - len(name)))
        left -= cost
    return response(*fields)


async def test_heads_at_the_limits_pass(make_proxy: ProxyFactory) -> None:
    at_limit = sized(32768)
    assert at_limit.index(b"\r\n\r\n") + 4 == 32768
    answers = iter([[response(b"X-Long: " + b"v" * (8192 - 8))], [at_limit], [sized(32769)]])
    async with raw_upstream(lambda: next(answers)) as upstream:
        proxy = await make_proxy(routes_to(upstream))
        port = proxy.server.port
        assert (await ask(port, head(b"Host: web")))[0] == 200  # a line of 8192 bytes
        assert (await ask(port, head(b"Host: web")))[0] == 200
        status, _, body = await ask(port, head(b"Host: web"))  # one byte more
    assert status == 502 and b"larger than 32768 bytes" in body


async def test_a_64_mib_header_field_is_cut_short(make_proxy: ProxyFactory) -> None:
    """The 502 comes after the head's budget, while the upstream is still sending: the proxy
    neither waits for nor keeps the rest, and drops that connection."""
    async with raw_upstream(huge_field) as upstream:
        proxy = await make_proxy(routes_to(upstream))
        loop = asyncio.get_running_loop()
        begin = loop.time()
        status, _, body = await ask(proxy.server.port, head(b"Host: web"))
        took = loop.time() - begin
        for _ in range(200):  # the upstream sees its connection reset
            if upstream.closed:
                break
            await asyncio.sleep(0.05)
    assert status == 502 and b"larger than 32768 bytes" in body
    assert took < 10, took
    assert upstream.sent and upstream.sent[0] < 16 * MIB, upstream.sent


async def test_the_response_limits_are_options(make_proxy: ProxyFactory) -> None:
    answers = iter([[response(b"X-A: " + b"a" * 250)], [response(b"X-A: " + b"a" * 300)],
                    [response(*(b"X-%d: 1" % i for i in range(200)))]])
    async with raw_upstream(lambda: next(answers)) as upstream:
        proxy = await make_proxy(routes_to(upstream), max_response_head_bytes=1024,
                                 max_response_field_bytes=256)
        port = proxy.server.port
        assert (await ask(port, head(b"Host: web")))[0] == 200
        status, _, body = await ask(port, head(b"Host: web"))
        assert status == 502 and b"line longer than 256 bytes" in body
        status, _, body = await ask(port, head(b"Host: web"))
        assert status == 502 and b"larger than 1024 bytes" in body


async def test_a_head_seen_before_under_other_limits_is_judged_again(
    make_proxy: ProxyFactory,
) -> None:
    """An upstream answer whose head was seen (and parsed) before skips the parser (docs/proxy.md,
    Design); the heads are remembered per process, and a proxy with smaller limits must not take
    a head its limits refuse from there."""
    answer = response(b"X-Mid: " + b"m" * 2000)
    async with raw_upstream(lambda: [answer]) as upstream:
        roomy = await make_proxy(routes_to(upstream))
        for _ in range(3):
            assert (await ask(roomy.server.port, head(b"Host: web")))[0] == 200
        tight = await make_proxy(routes_to(upstream), max_response_field_bytes=1024)
        status, _, body = await ask(tight.server.port, head(b"Host: web"))
    assert status == 502 and b"line longer than 1024 bytes" in body


@pytest.mark.slow
async def test_huge_upstream_heads_are_refused_without_growing_memory(
    tmp_path: Path, spawn: list[Running],
) -> None:
    """Four requests whose upstream answers with a 64 MiB header field: four 502s, and the
    proxy process's memory stays where it was."""
    async with raw_upstream(lambda: [response(b"X-Small: 1")]) as small, \
            raw_upstream(huge_field) as huge:
        routes = tmp_path / "routes.yaml"
        routes.write_text(json.dumps({"routes": [
            {"name": "huge", "hosts": ["huge"], "stable": {"endpoints": [huge.address]}},
            {"name": "small", "stable": {"endpoints": [small.address]}}]}))
        proxy = start(spawn, routes).started()
        assert (await ask(proxy.port, head(b"Host: small")))[0] == 200
        peak_before, rss_before = peak_rss_kib(proxy.proc.pid), rss_kib(proxy.proc.pid)
        got = await asyncio.gather(*(ask(proxy.port, head(b"Host: huge")) for _ in range(4)))
        assert [g[0] for g in got] == [502] * 4
        assert all(b"larger than 32768 bytes" in g[2] for g in got)
        peak_growth = (peak_rss_kib(proxy.proc.pid) - peak_before) / 1024
        held = (rss_kib(proxy.proc.pid) - rss_before) / 1024
        assert (await ask(proxy.port, head(b"Host: small")))[0] == 200
    assert peak_growth < 16, f"peak RSS grew by {peak_growth:.0f} MiB"
    assert held < 8, f"RSS stayed {held:.0f} MiB above where it was"
    assert len(huge.sent) == 4 and max(huge.sent) < 16 * MIB, huge.sent
