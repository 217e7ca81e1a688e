"""The HTTPS server over real TLS on loopback: /mutate, health, metrics, errors, drain, reload."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import aiohttp
import pytest
from cryptography import x509

from tests.admission.conftest import Pki, golden
from tests.admission.rawhttp import (
    closed_by_peer,
    exchange,
    open_tls,
    read_response,
    request_bytes,
)
from tests.tls.handshake import SERVER_NAME
from webhook.admission import review
from webhook.admission.config import MAX_BODY
from webhook.admission.server import Running

UPDATE = golden("22-update-new-canary")


async def _post(
    client: aiohttp.ClientSession, webhook: Running, body: bytes, query: str = "?timeout=10s"
) -> tuple[int, dict[str, str], bytes]:
    async with client.post(
        webhook.url("/mutate" + query),
        data=body,
        headers={"Content-Type": "application/json"},
        server_hostname=SERVER_NAME,
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def _get(client: aiohttp.ClientSession, webhook: Running, path: str) -> tuple[int, str]:
    async with client.get(webhook.url(path), server_hostname=SERVER_NAME) as resp:
        return resp.status, await resp.text()


async def test_mutate_answers_like_the_pure_function(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    status, headers, body = await _post(client, webhook, UPDATE)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == review(UPDATE).response.to_dict()


@pytest.mark.parametrize("query", ["", "?timeout=10s", "?timeout=1s&foo=bar", "?timeout=soon"])
async def test_timeout_and_unknown_query_parameters_are_accepted(
    webhook: Running, client: aiohttp.ClientSession, query: str
) -> None:
    status, _, body = await _post(client, webhook, UPDATE, query)
    assert status == 200 and json.loads(body)["response"]["allowed"] is True


async def test_keep_alive_connection_is_reused(webhook: Running, pki: Pki) -> None:
    connector = aiohttp.TCPConnector(ssl=pki.client_context(), limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(20):
            status, _, _ = await _post(session, webhook, UPDATE)
            assert status == 200
        server = webhook.runner.server
        assert server is not None and len(server.connections) == 1


async def test_health_readiness_and_metrics(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    assert await _get(client, webhook, "/healthz") == (200, "ok\n")
    assert await _get(client, webhook, "/readyz") == (200, "ok\n")
    await _post(client, webhook, UPDATE)
    await _post(client, webhook, golden("07-ignore-not-opted-in"))
    await _post(client, webhook, golden("05-create-invalid-annotations"))
    await _post(client, webhook, b"{")
    status, text = await _get(client, webhook, "/metrics")
    assert status == 200
    lines = set(text.splitlines())
    for outcome, count in [("mutated", 1), ("allowed", 1), ("denied", 1), ("bad_request", 1)]:
        assert f'canarist_webhook_reviews_total{{outcome="{outcome}"}} {count}' in lines
    assert 'canarist_webhook_reviews_total{outcome="error"} 0' in lines
    assert "canarist_webhook_review_duration_seconds_count 4" in lines
    assert 'canarist_webhook_review_duration_seconds_bucket{le="+Inf"} 4' in lines
    expiry = next(x for x in lines if x.startswith("canarist_webhook_certificate_expiry"))
    assert float(expiry.split()[1]) > time.time()


BAD_BODIES = [
    (b"{", "body is not JSON"),
    (b"", "body is not JSON"),
    (b"[]", "got array"),
    (b'{"apiVersion": "admission.k8s.io/v1beta1"}', "apiVersion"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}', "uid"),
    (b"\xff" * 10, "UTF-8"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_bodies_get_400_with_a_json_message(
    webhook: Running, client: aiohttp.ClientSession, body: bytes, message: str
) -> None:
    status, headers, raw = await _post(client, webhook, body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(raw)
    assert answer["code"] == 400 and message in answer["message"]
    assert "Traceback" not in raw.decode()


async def test_body_over_3_mib_gets_413(webhook: Running, client: aiohttp.ClientSession) -> None:
    big = b" " * (MAX_BODY + 1)
    status, headers, raw = await _post(client, webhook, big)
    assert status == 413 and "3 MiB" in json.loads(raw)["message"]
    assert headers.get("Connection") == "close"

    async def chunks() -> object:  # no Content-Length: refused while reading
        for _ in range(4):
            yield b" " * (1024 * 1024)

    async with client.post(
        webhook.url("/mutate"), data=chunks(), server_hostname=SERVER_NAME
    ) as resp:
        assert resp.status == 413
    assert webhook.state.metrics.reviews["too_large"] == 2


async def test_body_of_exactly_3_mib_is_reviewed(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    request = json.loads(golden("07-ignore-not-opted-in"))
    base = len(json.dumps(request, separators=(",", ":")))
    request["padding"] = ""
    request["padding"] = "x" * (MAX_BODY - len(json.dumps(request, separators=(",", ":"))))
    body = json.dumps(request, separators=(",", ":")).encode()
    assert len(body) == MAX_BODY > base
    status, _, raw = await _post(client, webhook, body)
    assert status == 200 and json.loads(raw)["response"]["allowed"] is True


async def test_wrong_method_or_path_is_not_a_500(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    assert (await _get(client, webhook, "/mutate"))[0] == 405
    assert (await _get(client, webhook, "/nope"))[0] == 404


async def test_drain_closes_idle_keep_alive_and_marks_responses(webhook: Running, pki: Pki) -> None:
    ctx = pki.client_context()
    idle_r, idle_w = await open_tls(webhook.port, ctx)
    status, headers, _ = await exchange(idle_r, idle_w, "/mutate", UPDATE)
    assert status == 200 and headers.get("connection", "").lower() != "close"
    drain = asyncio.create_task(webhook.drain(1.0))
    assert await closed_by_peer(idle_r, within=0.5), "idle keep-alive connection left open"
    # still accepting while draining, but every connection is closed after its response
    reader, writer = await open_tls(webhook.port, ctx)
    status, headers, _ = await exchange(reader, writer, "/mutate", UPDATE)
    assert status == 200 and headers["connection"] == "close"
    assert await closed_by_peer(reader, within=1.0)
    reader, writer = await open_tls(webhook.port, ctx)
    assert (await exchange(reader, writer, "/readyz", b""))[0] == 503
    await drain
    idle_w.close()
    writer.close()


async def test_request_in_flight_at_shutdown_is_answered(pki: Pki) -> None:
    from webhook.admission.server import serve

    async with serve(str(pki.cert), str(pki.key)) as running:
        reader, writer = await open_tls(running.port, pki.client_context())
        raw = request_bytes("/mutate", UPDATE)
        writer.write(raw[:-100])  # headers and most of the body
        await writer.drain()
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(running.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # waiting for the request in flight
        writer.write(raw[-100:])
        await writer.drain()
        status, headers, body = await read_response(reader)
        await asyncio.wait_for(stopping, 5)
    assert status == 200 and json.loads(body)["response"]["allowed"] is True
    assert headers["connection"] == "close"
    writer.close()
    with pytest.raises(OSError):
        await open_tls(running.port, pki.client_context())


async def _until(condition: Callable[[], bool], deadline: float) -> None:
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.01)


async def _served_serial(port: int, pki: Pki) -> int:
    _, writer = await open_tls(port, pki.client_context())
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return x509.load_der_x509_certificate(der).serial_number


async def test_certificate_swap_under_load_drops_nothing(webhook: Running, pki: Pki) -> None:
    """Bounded load on kept-alive and fresh connections while the files are replaced."""
    before = await _served_serial(webhook.port, pki)
    failures: list[str] = []
    done = 0
    swapped = asyncio.Event()
    deadline = time.monotonic() + 8

    async def worker(fresh_connections: bool) -> None:
        nonlocal done
        connector = aiohttp.TCPConnector(
            ssl=pki.client_context(), limit=1, force_close=fresh_connections
        )
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(400):
                try:
                    status, _, _ = await _post(session, webhook, UPDATE)
                    if status != 200:
                        failures.append(f"HTTP {status}")
                except (aiohttp.ClientError, OSError) as exc:
                    failures.append(repr(exc))
                done += 1
                if (swapped.is_set() and done > 300) or time.monotonic() > deadline:
                    return

    workers = [asyncio.create_task(worker(fresh)) for fresh in (True, True, False, False)]
    await _until(lambda: done >= 60, deadline)
    new_serial = pki.reissue()
    await _until(lambda: webhook.state.tls.reloads > 0, deadline)
    swapped.set()
    await asyncio.gather(*workers)
    assert failures == []
    assert webhook.state.tls.reloads == 1
    assert before != new_serial
    assert await _served_serial(webhook.port, pki) == new_serial
    assert done > 300


async def test_client_verifying_another_service_name_is_refused(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    """The server presents a certificate for canarist-webhook.canarist.svc only."""
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await client.post(webhook.url("/healthz"), server_hostname="other.canarist.svc")
    assert (await _get(client, webhook, "/healthz"))[0] == 200
