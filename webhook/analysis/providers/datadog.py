"""``datadog``: the v1 metrics query API (``GET <address>/api/v1/query``), last point of one series.

The keys come from a Secret in the Deployment's namespace (``secretRef``, default ``datadog``)
with the keys ``api-key`` and ``app-key``, read through a ``SecretReader`` the caller provides
(the reconciler passes one backed by ``webhook.kube``; this package never talks to the API).
The query covers the last ``WINDOW`` seconds; the value is the last non-null point.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from webhook.analysis.http import exchange, shown_url
from webhook.analysis.providers.base import MeasureContext
from webhook.analysis.state import utc
from webhook.analysis.values import to_number
from webhook.errors import CanaristError, MeasurementError
from webhook.spec import DatadogProvider, Metric

WINDOW = 300  # seconds of data a query covers, as Argo's default Datadog interval (5m)
TIMEOUT = 10.0
API_KEY, APP_KEY = "api-key", "app-key"

# (namespace, name) -> the Secret's decoded data, or None when there is no such Secret.
SecretReader = Callable[[str, str], Awaitable[Mapping[str, str] | None]]


def decode_secret(obj: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A Secret object as the API serves it -> its ``data`` decoded (``None`` for no object).

    Values that are not valid base64 or UTF-8 are left out, so the provider reports them as
    missing keys rather than sending garbage as a key.
    """
    if obj is None:
        return None
    data = obj.get("data")
    out: dict[str, str] = {}
    for key, value in (data.items() if isinstance(data, Mapping) else ()):
        if not isinstance(value, str):
            continue
        try:
            out[str(key)] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
    return out


def datadog_value(body: Any, status: int = 200) -> float:
    """The last point of the one series in a v1 ``/api/v1/query`` answer."""
    if not isinstance(body, Mapping):
        raise MeasurementError(f"datadog: HTTP {status}: answer is not a JSON object")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        raise MeasurementError(f"datadog: HTTP {status}: {'; '.join(map(str, errors))}")
    if body.get("status") == "error" or body.get("error"):
        raise MeasurementError(f"datadog: HTTP {status}: {body.get('error') or 'error'}")
    if not 200 <= status < 300:
        raise MeasurementError(f"datadog: HTTP {status}")
    series = body.get("series")
    if not isinstance(series, list):
        raise MeasurementError("datadog: answer has no 'series' list")
    if not series:
        raise MeasurementError(
            f"datadog: the query returned no series in the last {WINDOW}s (no data yet, or the "
            "tags match nothing)"
        )
    if len(series) > 1:
        raise MeasurementError(
            f"datadog: the query returned {len(series)} series; it must return exactly one "
            "(drop the 'by {...}' grouping or aggregate it)"
        )
    points = series[0].get("pointlist") if isinstance(series[0], Mapping) else None
    if not isinstance(points, list):
        raise MeasurementError("datadog: the series has no 'pointlist'")
    for point in reversed(points):
        if isinstance(point, list) and len(point) == 2 and point[1] is not None:
            return to_number(point[1], "datadog: last point")
    raise MeasurementError(f"datadog: the series has no non-null point in the last {WINDOW}s")


class DatadogSource:
    def __init__(self, session: aiohttp.ClientSession, secrets: SecretReader | None) -> None:
        self.session = session
        self.secrets = secrets

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        provider = metric.provider
        assert isinstance(provider, DatadogProvider)
        api_key, app_key = await self._keys(provider, context.namespace)
        now = int(utc(context.now).timestamp())
        address = provider.address.rstrip("/")
        answer = await exchange(
            self.session,
            "GET",
            f"{address}/api/v1/query",
            what=f"datadog {shown_url(address)}",
            seconds=TIMEOUT,
            headers={"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key},
            params={"from": str(now - WINDOW), "to": str(now), "query": provider.query},
        )
        body = answer.json_or_none()
        if body is None and not answer.ok:
            raise answer.status_error()
        return datadog_value(answer.json() if body is None else body, answer.status)

    async def _keys(self, provider: DatadogProvider, namespace: str) -> tuple[str, str]:
        where = f"Secret {namespace}/{provider.secret_ref}"
        if self.secrets is None:
            raise MeasurementError(f"datadog: cannot read {where}: no secret reader configured")
        try:
            data = await self.secrets(namespace, provider.secret_ref)
        except CanaristError as exc:
            raise MeasurementError(f"datadog: cannot read {where}: {exc}") from None
        if data is None:
            raise MeasurementError(
                f"datadog: {where} not found; create it with the keys {API_KEY} and {APP_KEY}"
            )
        keys = []
        for key in (API_KEY, APP_KEY):
            value = (data.get(key) or "").strip()
            if not value:
                raise MeasurementError(f"datadog: {where} has no (or an empty) key {key!r}")
            keys.append(value)
        return keys[0], keys[1]
