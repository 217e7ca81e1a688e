"""The webhook closes a connection that sends its request head too slowly (client_header_timeout),
and only that: idle keep-alive connections and slow bodies are other timeouts' business."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.admission.conftest import Pki, golden
from tests.admission.rawhttp import exchange, open_tls, read_response, request_bytes
from webhook.admission.config import ServerConfig
from webhook.admission.server import Running, serving

TIMEOUT = 0.6
UPDATE = golden("22-update-new-canary")


@pytest.fixture
async def webhook(pki: Pki) -> AsyncIterator[Running]:
    config = ServerConfig(str(pki.cert), str(pki.key), "127.0.0.1", 0, drain_seconds=0,
                          header_timeout=TIMEOUT)
    async with serving(config) as running:
        yield running


async def test_a_head_sent_byte_by_byte_is_cut_off(webhook: Running, pki: Pki) -> None:
    reader, writer = await open_tls(webhook.port, pki.client_context())
    head = request_bytes("/mutate", UPDATE)
    started = time.monotonic()
    closed_after = None
    for byte in head[:200]:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            break
        if reader.at_eof():
            break
        await asyncio.sleep(0.05)
        data = b""
        try:
            data = await asyncio.wait_for(reader.read(4096), 0.001)
        except TimeoutError:
            continue
        assert data.startswith(b"HTTP/1.1 408 ") or data == b""
        closed_after = time.monotonic() - started
        break
    assert closed_after is not None, "the slow head was never cut off"
    assert TIMEOUT * 0.9 < closed_after < TIMEOUT + 2.0
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(webhook: Running, pki: Pki) -> None:
    reader, writer = await open_tls(webhook.port, pki.client_context())
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(4096), TIMEOUT + 3)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout")
    assert await asyncio.wait_for(reader.read(1), 2) == b""
    assert time.monotonic() - started >= TIMEOUT * 0.9
    writer.close()


async def test_idle_keep_alive_between_requests_is_not_a_slow_head(
    webhook: Running, pki: Pki
) -> None:
    reader, writer = await open_tls(webhook.port, pki.client_context())
    assert (await exchange(reader, writer, "/mutate", UPDATE))[0] == 200
    await asyncio.sleep(TIMEOUT * 2)  # idle: the keep-alive timeout (120 s) applies
    assert (await exchange(reader, writer, "/mutate", UPDATE))[0] == 200
    writer.close()


async def test_a_slow_body_after_a_whole_head_is_not_cut_off(webhook: Running, pki: Pki) -> None:
    reader, writer = await open_tls(webhook.port, pki.client_context())
    request = request_bytes("/mutate", UPDATE)
    split = request.index(b"\r\n\r\n") + 4
    writer.write(request[:split])
    await writer.drain()
    body = request[split:]
    step = len(body) // 4 + 1
    for i in range(0, len(body), step):
        await asyncio.sleep(TIMEOUT / 2)
        writer.write(body[i:i + step])
        await writer.drain()
    status, _, _ = await read_response(reader)
    assert status == 200
    writer.close()


async def test_each_later_head_has_its_own_time(webhook: Running, pki: Pki) -> None:
    reader, writer = await open_tls(webhook.port, pki.client_context())
    for _ in range(3):
        request = request_bytes("/mutate", UPDATE)
        writer.write(request[:10])
        await asyncio.sleep(TIMEOUT / 3)
        writer.write(request[10:])
        status, _, _ = await read_response(reader)
        assert status == 200
    writer.close()
