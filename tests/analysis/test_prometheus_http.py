"""The prometheus provider against a real HTTP server answering like ``/api/v1/query``."""

from __future__ import annotations

import math
import socket
import ssl

import pytest
import trustme
from aiohttp import web

from tests.analysis.fakes import GARBAGE, HUGE, SLOW, FakePrometheus, serve
from tests.analysis.helpers import T0
from webhook.analysis import MeasureContext, Measurer
from webhook.errors import MeasurementError
from webhook.spec import Metric, PrometheusProvider

CTX = MeasureContext("shop", "web", T0)


def prom(address: str, query: str = "q", timeout: float = 2.0) -> Metric:
    return Metric("m", PrometheusProvider(address, query, timeout), max=1.0)


async def measure(metric: Metric, **kwargs) -> float:
    async with Measurer(**kwargs) as measurer:
        return await measurer.measure(metric, CTX)


async def failure(metric: Metric, **kwargs) -> str:
    with pytest.raises(MeasurementError) as err:
        await measure(metric, **kwargs)
    return str(err.value)


async def test_instant_vector_of_one_series():
    fake = FakePrometheus({'sum(rate(errors{version="canary"}[1m]))': 0.0123})
    async with serve(fake.app()) as url:
        value = await measure(prom(url, 'sum(rate(errors{version="canary"}[1m]))'))
    assert value == 0.0123
    assert fake.seen == [("POST", 'sum(rate(errors{version="canary"}[1m]))')]


async def test_scalar_and_inf():
    fake = FakePrometheus({"scalar(x)": ("scalar", 7), "q99": math.inf})
    async with serve(fake.app()) as url:
        assert await measure(prom(url, "scalar(x)")) == 7.0
        assert await measure(prom(url, "q99")) == math.inf


async def test_address_with_a_path_prefix():
    fake = FakePrometheus({"up": 1.0})
    root = web.Application()
    root.add_subapp("/prometheus/", fake.app())
    async with serve(root) as url:
        assert await measure(prom(f"{url}/prometheus/", "up")) == 1.0


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "the query returned no series (empty vector)"),
        ([0.1, 0.2], "the query returned 2 series ({pod=\"web-0\",version=\"canary\"}, "
                     "{pod=\"web-1\",version=\"canary\"}); it must return exactly one"),
        (math.nan, "prometheus: sample value is NaN"),
        (("matrix",), "returned a matrix result"),
        (("error", 422, "execution", "expanding series: context deadline exceeded"),
         "prometheus: HTTP 422: execution: expanding series: context deadline exceeded"),
        (("error", 503, "unavailable", "TSDB not ready"),
         "prometheus: HTTP 503: unavailable: TSDB not ready"),
        (GARBAGE, "HTTP 502: '<html><body>502 Bad Gateway</body></html>'"),
        (HUGE, "is over the 1048576 limit"),
    ],
)
async def test_error_answers(answer, message):
    fake = FakePrometheus({"q": answer})
    async with serve(fake.app()) as url:
        assert message in await failure(prom(url, "q"))


async def test_unknown_query_is_prometheus_bad_data():
    async with serve(FakePrometheus().app()) as url:
        text = await failure(prom(url, "nope{"))
    assert text == 'prometheus: HTTP 400: bad_data: 1:1: parse error: unknown query "nope{"'


async def test_timeout():
    fake = FakePrometheus({"q": SLOW})
    async with serve(fake.app()) as url:
        text = await failure(prom(url, "q", timeout=0.3))
    assert text == f"prometheus {url}: no answer within 0.3s"


async def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    text = await failure(prom(f"http://{address}"))
    assert text.startswith(f"prometheus http://{address}: cannot connect to {address}: ")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


async def test_https_with_a_private_ca(ca):
    client = ssl.create_default_context()
    ca.configure_trust(client)
    fake = FakePrometheus({"up": 1.0})
    async with serve(fake.app(), server_ctx(ca)) as url:
        assert url.startswith("https://")
        assert await measure(prom(url, "up"), ssl=client) == 1.0


async def test_https_untrusted_certificate_is_a_measurement_error(ca):
    fake = FakePrometheus({"up": 1.0})
    async with serve(fake.app(), server_ctx(ca)) as url:
        text = await failure(prom(url, "up"))
    assert text.startswith(f"prometheus {url}: ")
    assert "certificate" in text.lower()
    assert fake.seen == []


async def test_credentials_in_the_address_stay_out_of_messages():
    fake = FakePrometheus({"q": GARBAGE})
    async with serve(fake.app()) as url:
        text = await failure(prom(url.replace("http://", "http://admin:hunter2@"), "q"))
    assert text.startswith(f"prometheus {url}: HTTP 502: ")
    assert "hunter2" not in text
    assert fake.seen == [("POST", "q")]
