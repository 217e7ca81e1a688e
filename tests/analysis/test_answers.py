"""Each provider's answer -> one number: tables over the pure readers."""

from __future__ import annotations

import base64
import math

import pytest

from webhook.analysis import decode_secret
from webhook.analysis.http import shown_url
from webhook.analysis.providers.builtin import builtin_value
from webhook.analysis.providers.datadog import datadog_value
from webhook.analysis.providers.prometheus import prometheus_value
from webhook.analysis.providers.web import request_headers, web_value
from webhook.errors import MeasurementError
from webhook.spec import WebProvider


def vector(*values, labels=None):
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": labels or {"pod": f"p{i}"}, "value": [1767322800.5, v]}
                for i, v in enumerate(values)
            ],
        },
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (vector("0.991"), 0.991),
        (vector("+Inf"), math.inf),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1.5, "42"]}}, 42.0),
    ],
)
def test_prometheus_values(body, expected):
    assert prometheus_value(body) == expected


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (vector(), 200, "returned no series (empty vector)"),
        (vector("1", "2"), 200, 'returned 2 series ({pod="p0"}, {pod="p1"}); it must return '
                                "exactly one: aggregate it with sum(), avg() or max()"),
        (vector("1", "2", "3", "4"), 200, '{pod="p2"}, …)'),
        (vector("NaN"), 200, "prometheus: sample value is NaN"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, 200,
         "returned a matrix result; one number (a scalar or a vector of one series) is needed "
         "(use an instant query, without [range])"),
        ({"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}, 200,
         "returned a string result"),
        ({"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'},
         400, 'prometheus: HTTP 400: bad_data: parse error: unexpected "}"'),
        ({"status": "error", "errorType": "timeout", "error": "query timed out"}, 503,
         "HTTP 503: timeout: query timed out"),
        ({"data": {}}, 200, "not a Prometheus API answer"),
        ([1, 2], 200, "not a Prometheus API answer"),
        ({"status": "success"}, 200, "answer has no 'data' object"),
        ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}, 200,
         "sample value is not a [time, value] pair"),
    ],
)
def test_prometheus_errors(body, status, message):
    with pytest.raises(MeasurementError) as err:
        prometheus_value(body, status)
    assert message in str(err.value)


def series(*pointlists):
    return {"status": "ok", "res_type": "time_series",
            "series": [{"metric": "m", "scope": "*", "pointlist": p} for p in pointlists]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (series([[1000.0, 1.0], [2000.0, 2.5]]), 2.5),
        (series([[1000.0, 1.0], [2000.0, None]]), 1.0),  # last non-null point
    ],
)
def test_datadog_values(body, expected):
    assert datadog_value(body) == expected


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (series(), 200, "returned no series in the last 300s"),
        (series([[1, 1.0]], [[1, 2.0]]), 200, "returned 2 series; it must return exactly one"),
        (series([[1000.0, None]]), 200, "no non-null point"),
        (series([]), 200, "no non-null point"),
        ({"errors": ["Forbidden"]}, 403, "datadog: HTTP 403: Forbidden"),
        ({"status": "error", "error": "Error parsing query: unable to parse avg(:"}, 400,
         "datadog: HTTP 400: Error parsing query"),
        ({"status": "ok"}, 200, "answer has no 'series' list"),
        ({}, 500, "datadog: HTTP 500"),
        ("x", 200, "not a JSON object"),
    ],
)
def test_datadog_errors(body, status, message):
    with pytest.raises(MeasurementError) as err:
        datadog_value(body, status)
    assert message in str(err.value)


def summary(**canary):
    figures = {"requests": 200, "errors": 3, "successRate": 0.985,
               "latencyMs": {"p50": 2.5, "p95": 9.0, "p99": 31.0}, **canary}
    return {"windowSeconds": 60, "time": 1767322800,
            "routes": {"web": {"canary": figures, "stable": {"requests": 900, "errors": 0}}}}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("success-rate", 0.985),
        ("error-rate", 0.015),
        ("latency-p50", 2.5),
        ("latency-p95", 9.0),
        ("latency-p99", 31.0),
        ("request-rate", 200 / 60),
    ],
)
def test_builtin_values(name, expected):
    assert builtin_value(summary(), "web", name) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("body", "route", "name", "message"),
    [
        (summary(requests=0, successRate=None), "web", "success-rate",
         "no request reached the canary of route 'web' in the last 60s, so success-rate has no "
         "value yet"),
        (summary(), "shop", "latency-p99", "no request reached the canary of route 'shop'"),
        (summary(latencyMs=None), "web", "latency-p95", "routes.web.canary.latencyMs is missing"),
        (summary(successRate="x"), "web", "success-rate",
         "routes.web.canary.successRate is the string 'x'"),
        ({"routes": []}, "web", "success-rate", "answer has no 'routes' object"),
        ({"routes": {}, "windowSeconds": 0}, "web", "request-rate", "windowSeconds is 0"),
        ({"routes": {"web": 1}, "windowSeconds": 60}, "web", "success-rate",
         "routes.web is not an object"),
        (summary(), "web", "throughput", "unknown builtin metric 'throughput'"),
    ],
)
def test_builtin_errors(body, route, name, message):
    with pytest.raises(MeasurementError) as err:
        builtin_value(body, route, name)
    assert message in str(err.value)


def test_builtin_request_rate_without_canary_traffic_is_zero():
    assert builtin_value(summary(), "shop", "request-rate") == 0.0
    assert builtin_value(summary(requests=0), "web", "request-rate") == 0.0


def test_web_value():
    assert web_value({"passed": True}, "$.passed") == 1.0
    with pytest.raises(MeasurementError, match=r"web: \$.n is null, not a number"):
        web_value({"n": None}, "$.n")


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ((), '{"a": 1}', "application/json"),
        ((), "plain", "text/plain; charset=utf-8"),
        ((("content-type", "application/x-www-form-urlencoded"),), "a=1",
         "application/x-www-form-urlencoded"),
        ((), None, None),
    ],
)
def test_web_content_type(headers, body, expected):
    sent = request_headers(WebProvider("http://x/", "POST", headers, body))
    found = {k.lower(): v for k, v in sent.items()}.get("content-type")
    assert found == expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@ci.example.com:8443/smoke?token=s3cret", "https://ci.example.com:8443/smoke"),
        ("http://[::1]:8080/x?a=1", "http://[::1]:8080/x"),
        ("http://h:99999/x", "http://h/x"),
    ],
)
def test_urls_in_messages_hide_credentials(url, shown):
    assert shown_url(url) == shown


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_decode_secret():
    obj = {"kind": "Secret", "data": {"api-key": b64("abc\n"), "app-key": b64("def"),
                                      "bad": "!!!", "num": 3}}
    assert decode_secret(obj) == {"api-key": "abc\n", "app-key": "def"}
    assert decode_secret(None) is None
    assert decode_secret({"data": None}) == {}
