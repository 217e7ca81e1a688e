"""The web provider against a real HTTP endpoint."""

from __future__ import annotations

import pytest

from tests.analysis.fakes import GARBAGE, NOT_JSON_200, SLOW, FakeWeb, serve
from tests.analysis.helpers import T0
from webhook.analysis import MeasureContext, Measurer
from webhook.errors import MeasurementError
from webhook.spec import Metric, WebProvider

CTX = MeasureContext("shop", "web", T0)


def web_metric(url: str, json_path: str = "$.data.rate", **kwargs) -> Metric:
    return Metric("smoke", WebProvider(url, json_path=json_path, **kwargs), min=1.0)


async def outcome(metric: Metric) -> float | str:
    async with Measurer() as measurer:
        try:
            return await measurer.measure(metric, CTX)
        except MeasurementError as exc:
            return str(exc)


@pytest.mark.parametrize(
    ("answer", "path", "expected"),
    [
        ({"data": {"rate": 0.97}}, "$.data.rate", 0.97),
        ({"data": {"rate": "0.97"}}, "$.data.rate", 0.97),
        ({"passed": True}, "$.passed", 1.0),
        ({"passed": False}, "$.passed", 0.0),
        ({"items": [{"value": 3}, {"value": 4}]}, "$.items[1].value", 4.0),
        (12, "$", 12.0),
    ],
)
async def test_values(answer, path, expected):
    async with serve(FakeWeb(answer).app()) as url:
        assert await outcome(web_metric(f"{url}/smoke", path)) == expected


async def test_method_headers_and_body_are_sent():
    fake = FakeWeb({"ok": 1})
    provider_args = {"method": "POST", "headers": (("Authorization", "Bearer t0k"),),
                         "body": '{"suite": "smoke"}'}
    async with serve(fake.app()) as url:
        assert await outcome(web_metric(f"{url}/run?x=1", "$.ok", **provider_args)) == 1.0
    method, path, headers, body = fake.seen[0]
    assert (method, path, body) == ("POST", "/run?x=1", b'{"suite": "smoke"}')
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "status", "path", "message"),
    [
        ({"error": "down"}, 503, "$.x", "web {url}/smoke: HTTP 503: '{\"error\": \"down\"}'"),
        (GARBAGE, 200, "$.x", "web {url}/smoke: HTTP 502: '<html><body>502 Bad Gateway"),
        (NOT_JSON_200, 200, "$.x", "web {url}/smoke: answer is not JSON (HTTP 200): "
                                   "'<html>login</html>'"),
        ({"data": {}}, 200, "$.data.rate", "$.data has no key 'rate' (jsonPath $.data.rate)"),
        ({"data": {"rate": "n/a"}}, 200, "$.data.rate",
         "web: $.data.rate is the string 'n/a', not a number"),
        ({"data": {"rate": "NaN"}}, 200, "$.data.rate", "web: $.data.rate is NaN"),
        ({"data": {"rate": None}}, 200, "$.data.rate", "web: $.data.rate is null, not a number"),
    ],
)
async def test_errors(answer, status, path, message):
    async with serve(FakeWeb(answer, status).app()) as url:
        text = await outcome(web_metric(f"{url}/smoke?token=s3cret", path))
    assert isinstance(text, str)
    assert message.replace("{url}", url) in text
    assert "s3cret" not in text


async def test_timeout():
    async with serve(FakeWeb(SLOW).app()) as url:
        text = await outcome(web_metric(f"{url}/smoke", timeout=0.3))
    assert text == f"web {url}/smoke: no answer within 0.3s"


async def test_one_session_reuses_connections():
    fake = FakeWeb({"data": {"rate": 1}})
    async with serve(fake.app()) as url, Measurer() as measurer:
        for _ in range(3):
            assert await measurer.measure(web_metric(f"{url}/a"), CTX) == 1.0
    assert len(fake.peers) == 3
    assert len(set(fake.peers)) == 1  # kept alive: same client socket every time
