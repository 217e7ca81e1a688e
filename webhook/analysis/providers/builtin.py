"""``builtin``: figures of the canary version from the proxy's ``/summary`` sliding window.

``GET <proxy admin URL>/summary`` answers (``webhook/proxy/metrics.py``)::

    {"windowSeconds": 60, "time": 1767322800,
     "routes": {"web": {"canary": {"requests": 120, "errors": 1, "successRate": 0.991667,
                                   "latencyMs": {"p50": 3.1, "p95": 9.8, "p99": 20.4}},
                        "stable": {...}}}}

Metrics: ``success-rate`` and ``error-rate`` (fractions 0..1), ``latency-p50``/``-p95``/``-p99``
(milliseconds), ``request-rate`` (canary requests per second over the window). With no canary
request in the window every metric but ``request-rate`` (which reads 0) is an error: there is
nothing to judge yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from webhook.analysis.http import exchange, shown_url
from webhook.analysis.providers.base import MeasureContext
from webhook.analysis.values import to_number
from webhook.errors import MeasurementError
from webhook.spec import BuiltinProvider, Metric

CANARY = "canary"
TIMEOUT = 5.0
_LATENCY = {"latency-p50": "p50", "latency-p95": "p95", "latency-p99": "p99"}


def builtin_value(summary: Any, route: str, name: str) -> float:
    """The value of builtin metric ``name`` for the canary of ``route`` in a ``/summary`` body."""
    if not isinstance(summary, Mapping) or not isinstance(summary.get("routes"), Mapping):
        raise MeasurementError("proxy /summary: answer has no 'routes' object")
    window = to_number(
        summary.get("windowSeconds"), "proxy /summary: windowSeconds", finite=True
    )
    if window <= 0:
        raise MeasurementError(f"proxy /summary: windowSeconds is {window:g}, not positive")
    figures = _canary(summary["routes"], route)
    requests = 0.0
    if figures is not None:
        requests = to_number(figures.get("requests"), _at(route, "requests"), finite=True)
    if name == "request-rate":
        return requests / window
    if figures is None or requests <= 0:
        raise MeasurementError(
            f"proxy /summary: no request reached the canary of route {route!r} in the last "
            f"{window:g}s, so {name} has no value yet"
        )
    if name == "success-rate":
        return to_number(figures.get("successRate"), _at(route, "successRate"), finite=True)
    if name == "error-rate":
        return to_number(figures.get("errors"), _at(route, "errors"), finite=True) / requests
    if name in _LATENCY:
        latency = figures.get("latencyMs")
        if not isinstance(latency, Mapping):
            raise MeasurementError(f"{_at(route, 'latencyMs')} is missing")
        return to_number(latency.get(_LATENCY[name]), _at(route, f"latencyMs.{_LATENCY[name]}"))
    raise MeasurementError(f"unknown builtin metric {name!r}")


def _canary(routes: Mapping[str, Any], route: str) -> Mapping[str, Any] | None:
    versions = routes.get(route)
    if versions is None:
        return None
    if not isinstance(versions, Mapping):
        raise MeasurementError(f"proxy /summary: routes.{route} is not an object")
    figures = versions.get(CANARY)
    if figures is not None and not isinstance(figures, Mapping):
        raise MeasurementError(f"proxy /summary: routes.{route}.{CANARY} is not an object")
    return figures


def _at(route: str, key: str) -> str:
    return f"proxy /summary: routes.{route}.{CANARY}.{key}"


class BuiltinSource:
    """Reads the proxy admin endpoint given by configuration (``--proxy-admin-url``)."""

    def __init__(
        self, session: aiohttp.ClientSession, admin_url: str | None, seconds: float = TIMEOUT
    ) -> None:
        self.session = session
        self.admin_url = admin_url.rstrip("/") if admin_url else None
        self.seconds = seconds

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        provider = metric.provider
        assert isinstance(provider, BuiltinProvider)
        if not self.admin_url:
            raise MeasurementError(
                "the builtin provider needs canarist proxy's admin URL, and this reconciler "
                "has none: canarist reconcile --proxy-admin-url URL (for example "
                "http://canarist-proxy-admin:9901); canarist up gives its reconciler the "
                "proxy it runs (not with --without proxy)"
            )
        what = f"proxy {shown_url(self.admin_url)}"
        answer = await exchange(
            self.session, "GET", f"{self.admin_url}/summary", what=what, seconds=self.seconds
        )
        if not answer.ok:
            body = answer.json_or_none()
            detail = body.get("error") if isinstance(body, Mapping) else None
            raise answer.status_error(str(detail) if detail else "")
        return builtin_value(answer.json(), context.route_name, provider.metric)
