"""The datadog provider against a real HTTP server answering like Datadog's v1 query API; the keys
come from Secret objects shaped as the API serves them (base64 ``data``)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from tests.analysis.fakes import GARBAGE, SLOW, FakeDatadog, serve
from tests.analysis.helpers import T0
from webhook.analysis import MeasureContext, Measurer, decode_secret
from webhook.errors import Forbidden, MeasurementError
from webhook.spec import DatadogProvider, Metric

CTX = MeasureContext("shop", "web", T0)
NOW = int(T0.timestamp())
QUERY = "avg:trace.http.request.errors{service:web,version:canary}.as_rate()"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Secrets:
    """Secret objects by (namespace, name), read the way the reconciler's reader will."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]] | None = None,
                 error: Exception | None = None) -> None:
        self.objects = objects or {}
        self.error = error

    async def __call__(self, namespace: str, name: str) -> Mapping[str, str] | None:
        if self.error is not None:
            raise self.error
        return decode_secret(self.objects.get((namespace, name)))


GOOD = Secrets({("shop", "datadog"): {"kind": "Secret", "data": {
    "api-key": b64("api-123\n"), "app-key": b64("app-456")}}})


def dd(address: str, query: str = QUERY, secret: str = "datadog") -> Metric:
    return Metric("errors", DatadogProvider(query, address, secret), max=0.01)


async def outcome(metric: Metric, secrets=GOOD) -> float | str:
    async with Measurer(secrets=secrets) as measurer:
        try:
            return await measurer.measure(metric, CTX)
        except MeasurementError as exc:
            return str(exc)


async def test_last_point_over_the_last_five_minutes():
    fake = FakeDatadog(results={QUERY: [[[(NOW - 60) * 1000.0, 0.002], [NOW * 1000.0, 0.004],
                                         [(NOW + 1) * 1000.0, None]]]})
    async with serve(fake.app()) as url:
        assert await outcome(dd(url)) == 0.004
    assert fake.seen == [{"from": str(NOW - 300), "to": str(NOW), "query": QUERY}]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "datadog: the query returned no series in the last 300s"),
        ([[[1.0, 1.0]], [[1.0, 2.0]]], "datadog: the query returned 2 series"),
        ([[[1.0, None]]], "datadog: the series has no non-null point in the last 300s"),
        (GARBAGE, "HTTP 502: '<html><body>502 Bad Gateway</body></html>'"),
    ],
)
async def test_error_answers(answer, message):
    fake = FakeDatadog(results={QUERY: answer})
    async with serve(fake.app()) as url:
        text = await outcome(dd(url))
    assert isinstance(text, str) and message in text


async def test_bad_query_shows_datadogs_error():
    async with serve(FakeDatadog().app()) as url:
        text = await outcome(dd(url, "avg:(("))
    assert text == "datadog: HTTP 400: Error parsing query: avg:(("


async def test_wrong_keys_are_forbidden():
    secrets = Secrets({("shop", "datadog"): {"data": {"api-key": b64("old"),
                                                     "app-key": b64("app-456")}}})
    async with serve(FakeDatadog(results={QUERY: []}).app()) as url:
        assert await outcome(dd(url), secrets) == "datadog: HTTP 403: Forbidden"


async def test_timeout(monkeypatch):
    monkeypatch.setattr("webhook.analysis.providers.datadog.TIMEOUT", 0.3)
    async with serve(FakeDatadog(results={QUERY: SLOW}).app()) as url:
        assert await outcome(dd(url)) == f"datadog {url}: no answer within 0.3s"


@pytest.mark.parametrize(
    ("secrets", "secret_ref", "message"),
    [
        (GOOD, "dd-keys",
         "datadog: Secret shop/dd-keys not found; create it with the keys api-key and app-key"),
        (Secrets({("shop", "datadog"): {"data": {"api-key": b64("a")}}}), "datadog",
         "datadog: Secret shop/datadog has no (or an empty) key 'app-key'"),
        (Secrets({("shop", "datadog"): {"data": {"api-key": b64(" "), "app-key": b64("b")}}}),
         "datadog", "datadog: Secret shop/datadog has no (or an empty) key 'api-key'"),
        (Secrets(error=Forbidden("secrets \"datadog\" is forbidden", status=403)), "datadog",
         'datadog: cannot read Secret shop/datadog: secrets "datadog" is forbidden'),
        (None, "datadog",
         "datadog: cannot read Secret shop/datadog: no secret reader configured"),
    ],
)
async def test_secret_problems_are_measurement_errors(secrets, secret_ref, message):
    fake = FakeDatadog(results={QUERY: [[[1.0, 1.0]]]})
    async with serve(fake.app()) as url:
        assert await outcome(dd(url, secret=secret_ref), secrets) == message
    assert fake.seen == []  # nothing sent without keys
