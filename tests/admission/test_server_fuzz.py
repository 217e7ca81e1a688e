"""hypothesis against the running server: any body gets 200 or a 400 with a JSON message —
never a 500, never a traceback — over one kept-alive TLS connection."""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admission.conftest import golden
from tests.admission.test_fuzz_review import SEEDS, _paths, json_values
from tests.tls.handshake import NAMESPACE, SERVER_NAME, SERVICE, apiserver_context
from webhook.admission.server import Running, serve

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Served:
    """The webhook on a background event loop, and a synchronous keep-alive client."""

    def __init__(self, tmp: Path) -> None:
        ca = trustme.CA()
        leaf = ca.issue_cert(SERVER_NAME, f"{SERVICE}.{NAMESPACE}")
        leaf.cert_chain_pems[0].write_to_path(str(tmp / "tls.crt"))
        leaf.private_key_pem.write_to_path(str(tmp / "tls.key"))
        self.ctx = apiserver_context()
        ca.configure_trust(self.ctx)
        self.ctx.check_hostname = False  # http.client dials an IP; TLS is tested elsewhere
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.running: Running | None = None
        self.thread = threading.Thread(target=self._run, args=(tmp,), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "server did not start"
        self.conn: http.client.HTTPSConnection | None = None

    def _run(self, tmp: Path) -> None:
        async def main() -> None:
            self.stop = asyncio.Event()
            async with serve(str(tmp / "tls.crt"), str(tmp / "tls.key")) as running:
                self.running = running
                self.ready.set()
                await self.stop.wait()

        self.loop.run_until_complete(main())

    def post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.running is not None
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(
                "127.0.0.1", self.running.port, context=self.ctx, timeout=10
            )
        self.conn.request("POST", "/mutate?timeout=10s", body, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("fuzz"))
    yield server
    server.close()


def _check(served: Served, body: bytes) -> None:
    status, headers, data = served.post(body)
    assert status in (200, 400), (status, data)
    assert headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = json.loads(data)
    if status == 400:
        assert answer["code"] == 400 and answer["message"].startswith("bad AdmissionReview: ")
    else:
        assert answer["kind"] == "AdmissionReview" and "allowed" in answer["response"]
    assert b"Traceback" not in data


@SETTINGS
@given(json_values)
def test_random_json(served: Served, value: Any) -> None:
    _check(served, json.dumps(value).encode())


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(served: Served, body: bytes) -> None:
    _check(served, body)


@SETTINGS
@given(st.sampled_from(SEEDS), st.data(), json_values)
def test_reviews_with_one_field_replaced(
    served: Served, seed: dict[str, Any], data: st.DataObject, value: Any
) -> None:
    request = copy.deepcopy(seed)
    path = data.draw(st.sampled_from(_paths(request)[1:]))
    node: Any = request
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _check(served, json.dumps(request).encode())


def test_no_errors_were_counted(served: Served) -> None:
    _check(served, golden("22-update-new-canary"))
    assert served.running is not None
    reviews = served.running.state.metrics.reviews
    assert reviews["error"] == 0 and reviews["mutated"] >= 1
