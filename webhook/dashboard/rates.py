"""Request and error rates per version from canarist proxy, for the weight chart.

With ``--proxy-admin-url``, one poller (whatever the number of pages) reads the proxy's admin
``GET /summary?window=N`` every ``interval`` seconds (``docs/proxy.md``: per route and version,
the requests and errors of the last N seconds) and keeps, per route, the last ``keep`` samples
as rates per second. A route is named after its Deployment (``name[:63]``, trailing ``-`` and
``.`` dropped), as the ``proxy`` router writes it. The samples live in memory only: after a
restart the chart shows rates from then on (the weights, from ``canarist.io/history``, go back
to the start of the release).

``samples_of(summary, at, window)`` is the pure part: one body of ``/summary`` to one sample per
route, leniently (a route or version with odd figures is skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import aiohttp

log = logging.getLogger("canarist.dashboard.rates")
MAX_ROUTES = 2000
MAX_BODY = 4 << 20  # bytes of a /summary answer read

# (unix seconds, stable req/s, stable errors/s, canary req/s, canary errors/s)
Sample = tuple[float, float, float, float, float]


def route_name(deployment: str) -> str:
    return deployment[:63].rstrip("-.")


def _figure(versions: Mapping[str, Any], version: str, key: str) -> float:
    figures = versions.get(version)
    value = figures.get(key) if isinstance(figures, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return max(0.0, float(value))


def samples_of(summary: Any, at: float, window: float) -> dict[str, Sample]:
    if not isinstance(summary, Mapping) or not isinstance(summary.get("routes"), Mapping):
        return {}
    out: dict[str, Sample] = {}
    for route, versions in list(summary["routes"].items())[:MAX_ROUTES]:
        if not isinstance(route, str) or not isinstance(versions, Mapping):
            continue
        out[route] = (
            at,
            round(_figure(versions, "stable", "requests") / window, 3),
            round(_figure(versions, "stable", "errors") / window, 3),
            round(_figure(versions, "canary", "requests") / window, 3),
            round(_figure(versions, "canary", "errors") / window, 3),
        )
    return out


class RatesPoller:
    def __init__(self, admin_url: str, *, interval: float = 5.0, keep: int = 360) -> None:
        self.url = admin_url.rstrip("/") + "/summary"
        self.interval = interval
        self.window = max(1, math.ceil(interval))
        self.keep = keep
        self.routes: dict[str, deque[Sample]] = {}
        self.problem = ""  # why the last poll failed, or ""
        self._task: asyncio.Task[None] | None = None

    def samples(self, route: str, since: float = 0.0) -> list[Sample]:
        return [s for s in self.routes.get(route, ()) if s[0] >= since]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dashboard-rates")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=max(2.0, self.interval))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self.poll(session)
                await asyncio.sleep(self.interval)

    async def poll(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(self.url, params={"window": str(self.window)}) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                body = await resp.content.read(MAX_BODY)
            summary = json.loads(body)
        except (aiohttp.ClientError, TimeoutError, ValueError, RecursionError) as exc:
            if not self.problem:
                log.warning("proxy admin %s: %s", self.url, exc)
            self.problem = f"{self.url}: {exc or type(exc).__name__}"
            return
        self.problem = ""
        for route, sample in samples_of(summary, time.time(), self.window).items():
            series = self.routes.get(route)
            if series is None:
                if len(self.routes) >= MAX_ROUTES:
                    continue
                series = self.routes[route] = deque(maxlen=self.keep)
            series.append(sample)
