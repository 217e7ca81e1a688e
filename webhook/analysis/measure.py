"""The I/O edge of the analysis: measure the due metrics, then hand the readings to the verdict.

``Measurer`` owns the one ``ClientSession`` every provider shares. ``read`` never raises for a
provider's failure: a ``MeasurementError`` (or any unexpected exception, logged) becomes an
error ``Reading`` that counts toward ``consecutiveErrorLimit``. Only cancellation propagates.

Usage from a reconcile loop::

    async with Measurer(proxy_admin_url=url, secrets=read_secret) as measurer:
        ...
        verdict = await measurer.advance(spec, record.step, context)
        record = replace(record, step=verdict.state)   # stored in canarist.io/status
        # verdict.phase: Running -> requeue at verdict.next_at; Successful -> next step;
        # Failed/Error -> abort; Inconclusive -> pause
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import aiohttp

from webhook.analysis.http import new_session
from webhook.analysis.plan import RunSpec
from webhook.analysis.providers.base import MeasureContext, Source
from webhook.analysis.providers.builtin import BuiltinSource
from webhook.analysis.providers.datadog import DatadogSource, SecretReader
from webhook.analysis.providers.prometheus import PrometheusSource
from webhook.analysis.providers.web import WebSource
from webhook.analysis.state import RunState
from webhook.analysis.verdict import Reading, Verdict, assess, due
from webhook.errors import MeasurementError
from webhook.spec import (
    BuiltinProvider,
    DatadogProvider,
    Metric,
    PrometheusProvider,
    WebProvider,
)

log = logging.getLogger("canarist.analysis")


class Measurer:
    """Measures metrics with the provider each names, on one shared HTTP session.

    ``proxy_admin_url``: the proxy admin listener the ``builtin`` provider reads
    (``canarist proxy --admin-listen``). ``secrets``: reads the Datadog keys' Secret.
    ``ssl``: passed to the connector (an ``SSLContext`` trusting a private CA, or ``True``).
    ``session``: an existing session to use instead (not closed by ``close``).
    """

    def __init__(
        self,
        *,
        proxy_admin_url: str | None = None,
        secrets: SecretReader | None = None,
        ssl: Any = True,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.proxy_admin_url = proxy_admin_url
        self.secrets = secrets
        self._ssl = ssl
        self._session = session
        self._owned = session is None
        self._sources: dict[type, Source] = {}

    async def __aenter__(self) -> Measurer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
        self._session = None
        self._sources.clear()

    def _source(self, provider: object) -> Source:
        kind = type(provider)
        source = self._sources.get(kind)
        if source is not None:
            return source
        if self._session is None:  # created here: a session must be made inside the event loop
            self._session = new_session(self._ssl)
            self._owned = True
        session = self._session
        made: Source
        if kind is BuiltinProvider:
            made = BuiltinSource(session, self.proxy_admin_url)
        elif kind is PrometheusProvider:
            made = PrometheusSource(session)
        elif kind is DatadogProvider:
            made = DatadogSource(session, self.secrets)
        elif kind is WebProvider:
            made = WebSource(session)
        else:
            raise MeasurementError(f"no provider for {kind.__name__}")
        self._sources[kind] = made
        return made

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        """The metric's value now; ``MeasurementError`` when its provider has none."""
        return await self._source(metric.provider).measure(metric, context)

    async def read(self, metrics: Iterable[Metric], context: MeasureContext) -> dict[str, Reading]:
        """Measure ``metrics`` concurrently; every failure becomes an error reading."""
        todo = list(metrics)
        results = await asyncio.gather(*(self._read_one(m, context) for m in todo))
        return {m.name: r for m, r in zip(todo, results, strict=True)}

    async def _read_one(self, metric: Metric, context: MeasureContext) -> Reading:
        try:
            return Reading.of(await self.measure(metric, context))
        except MeasurementError as exc:
            return Reading.failed(str(exc))
        except Exception as exc:  # a provider bug must not stop the release loop
            log.exception("metric %s: unexpected failure", metric.name)
            return Reading.failed(f"unexpected {type(exc).__name__}: {exc}")

    async def advance(
        self, spec: RunSpec, state: RunState | None, context: MeasureContext
    ) -> Verdict:
        """Measure what is due at ``context.now`` and judge the run (``assess``)."""
        readings = await self.read(due(spec, state, context.now), context)
        return assess(spec, state, readings, context.now)
