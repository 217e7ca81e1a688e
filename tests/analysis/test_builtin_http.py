"""The builtin provider against the real proxy admin app (``webhook/proxy/admin.py``)."""

from __future__ import annotations

import pytest

from tests.analysis.fakes import FakeWeb, serve
from tests.analysis.helpers import T0
from webhook.analysis import MeasureContext, Measurer
from webhook.errors import MeasurementError
from webhook.proxy.admin import admin_app
from webhook.proxy.metrics import Metrics
from webhook.spec import BuiltinProvider, Metric

CTX = MeasureContext("shop", "web", T0)


def builtin(name: str) -> Metric:
    return Metric(name, BuiltinProvider(name), min=0.0)


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics(window_seconds=60)
    for i in range(100):  # canary: 98 fast answers, 2 server errors, one slow request
        m.record("web", "canary", 500 if i < 2 else 200, 0.4 if i == 99 else 0.003)
    for _ in range(400):
        m.record("web", "stable", 200, 0.002)
    m.record("other", "canary", 503, 0.001)
    return m


async def values(metrics: Metrics, names, ctx=CTX) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    async with serve(admin_app(metrics.snapshot, 60)) as url, \
            Measurer(proxy_admin_url=url + "/") as measurer:
        for name in names:
            try:
                out[name] = await measurer.measure(builtin(name), ctx)
            except MeasurementError as exc:
                out[name] = str(exc)
    return out


async def test_canary_figures_of_the_deployments_route(metrics):
    got = await values(metrics, ["success-rate", "error-rate", "request-rate", "latency-p50",
                                 "latency-p95", "latency-p99"])
    assert got["success-rate"] == 0.98
    assert got["error-rate"] == pytest.approx(0.02)
    assert got["request-rate"] == pytest.approx(100 / 60)
    p50, p95, p99 = got["latency-p50"], got["latency-p95"], got["latency-p99"]
    assert isinstance(p50, float) and isinstance(p99, float) and isinstance(p95, float)
    assert 2.5 <= p50 <= 3.6  # milliseconds
    assert p95 <= p99
    assert p99 >= 3.0


async def test_route_override_and_a_route_without_canary_traffic(metrics):
    other = MeasureContext("shop", "web", T0, route="other")
    got = await values(metrics, ["success-rate", "error-rate"], other)
    assert got == {"success-rate": 0.0, "error-rate": 1.0}
    quiet = MeasureContext("shop", "checkout", T0)
    got = await values(metrics, ["success-rate", "request-rate"], quiet)
    assert got["request-rate"] == 0.0
    assert got["success-rate"] == ("proxy /summary: no request reached the canary of route "
                                   "'checkout' in the last 60s, so success-rate has no value yet")


async def test_without_an_admin_url():
    """The advice names a flag each program has: reconcile's, and up's own proxy."""
    async with Measurer() as measurer:
        with pytest.raises(MeasurementError) as err:
            await measurer.measure(builtin("success-rate"), CTX)
    message = str(err.value)
    assert "canarist reconcile --proxy-admin-url URL" in message
    assert "canarist up gives its reconciler the proxy it runs" in message


async def test_admin_error_answer():
    fake = FakeWeb({"error": "draining"}, status=503)
    async with serve(fake.app()) as url, Measurer(proxy_admin_url=url) as measurer:
        with pytest.raises(MeasurementError) as err:
            await measurer.measure(builtin("success-rate"), CTX)
    assert str(err.value) == f"proxy {url}: HTTP 503: draining"
    assert fake.seen[0][:2] == ("GET", "/summary")
