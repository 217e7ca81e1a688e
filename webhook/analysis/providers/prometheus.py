"""``prometheus``: one instant query (``POST <address>/api/v1/query``) -> one number.

The query must answer a scalar or an instant vector of exactly one series. An empty vector (the
metric is not scraped yet, or the selector matches nothing) and several series (aggregate them
with ``sum``/``avg``/``max``) are errors, as are range vectors and NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from webhook.analysis.http import exchange, shown_url
from webhook.analysis.providers.base import MeasureContext
from webhook.analysis.values import to_number
from webhook.errors import MeasurementError
from webhook.spec import Metric, PrometheusProvider


def prometheus_value(body: Any, status: int = 200) -> float:
    """The number in a Prometheus ``/api/v1/query`` answer (``status``: the HTTP status)."""
    if not isinstance(body, Mapping) or "status" not in body:
        raise MeasurementError(f"prometheus: HTTP {status}: answer is not a Prometheus API answer")
    if body["status"] != "success":
        kind = body.get("errorType") or "error"
        raise MeasurementError(f"prometheus: HTTP {status}: {kind}: {body.get('error', '')}")
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise MeasurementError("prometheus: answer has no 'data' object")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample(result, "prometheus: scalar result")
    if kind != "vector":
        hint = " (use an instant query, without [range])" if kind == "matrix" else ""
        raise MeasurementError(
            f"prometheus: the query returned a {kind} result; one number (a scalar or a vector "
            f"of one series) is needed{hint}"
        )
    if not isinstance(result, list):
        raise MeasurementError("prometheus: vector result is not a list")
    if not result:
        raise MeasurementError(
            "prometheus: the query returned no series (empty vector): is the metric scraped "
            "yet, and does the label selector match?"
        )
    if len(result) > 1:
        shown = ", ".join(_labels(s) for s in result[:3]) + (", …" if len(result) > 3 else "")
        raise MeasurementError(
            f"prometheus: the query returned {len(result)} series ({shown}); it must return "
            "exactly one: aggregate it with sum(), avg() or max()"
        )
    series = result[0]
    if not isinstance(series, Mapping):
        raise MeasurementError("prometheus: vector sample is not an object")
    return _sample(series.get("value"), "prometheus: sample value")


def _sample(pair: Any, where: str) -> float:
    if not isinstance(pair, list) or len(pair) != 2:
        raise MeasurementError(f"{where} is not a [time, value] pair")
    return to_number(pair[1], where)


def _labels(series: Any) -> str:
    labels = series.get("metric") if isinstance(series, Mapping) else None
    if not isinstance(labels, Mapping) or not labels:
        return "{}"
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + (inner if len(inner) <= 80 else inner[:79] + "…") + "}"


class PrometheusSource:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        provider = metric.provider
        assert isinstance(provider, PrometheusProvider)
        address = provider.address.rstrip("/")
        answer = await exchange(
            self.session,
            "POST",
            f"{address}/api/v1/query",
            what=f"prometheus {shown_url(address)}",
            seconds=provider.timeout,
            data={"query": provider.query},
        )
        body = answer.json_or_none()
        if not answer.ok and not (isinstance(body, Mapping) and body.get("status") == "error"):
            raise answer.status_error()
        if body is None:
            body = answer.json()  # raises with the body's first characters
        return prometheus_value(body, answer.status)
