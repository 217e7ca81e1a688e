"""The demo's load generator: a bounded, paced stream of requests counted per version.

``Load(url, rate)`` sends ``rate`` requests a second (at most ``concurrency`` in flight) until
stopped, and counts the answers by the version the pod reports (``{"version": ...}`` in the demo
app's JSON) and by status: errors are 5xx answers or failed connections. ``snapshot()`` and
``since(snapshot)`` give the counts of a period.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Counts:
    versions: Counter[str] = field(default_factory=Counter)  # 2xx answers by version
    errors: Counter[str] = field(default_factory=Counter)  # 5xx answers by version ("?": none)

    @property
    def total(self) -> int:
        return sum(self.versions.values()) + sum(self.errors.values())

    def minus(self, earlier: Counts) -> Counts:
        return Counts(self.versions - earlier.versions, self.errors - earlier.errors)

    def share(self, version: str) -> float:
        ok = sum(self.versions.values())
        return self.versions[version] / ok if ok else 0.0


class Load:
    def __init__(self, url: str, *, rate: float = 50.0, concurrency: int = 8) -> None:
        self.url = url
        self.rate = rate
        self.concurrency = concurrency
        self._versions: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._recent: list[tuple[float, str, bool]] = []  # (time, version, ok), last 2 s

    def snapshot(self) -> Counts:
        return Counts(Counter(self._versions), Counter(self._errors))

    def recent(self, seconds: float = 2.0) -> Counts:
        cut = time.monotonic() - seconds
        counts = Counts()
        for at, version, ok in self._recent:
            if at >= cut:
                (counts.versions if ok else counts.errors)[version] += 1
        return counts

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="demo load")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        timeout = aiohttp.ClientTimeout(total=5)
        pending: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(timeout=timeout) as http:
            start, sent = time.monotonic(), 0
            try:
                while True:
                    sent += 1
                    await asyncio.sleep(max(0.0, start + sent / self.rate - time.monotonic()))
                    await slots.acquire()
                    task = asyncio.get_running_loop().create_task(self._one(http, slots))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            finally:
                for task in list(pending):
                    task.cancel()

    async def _one(self, http: aiohttp.ClientSession, slots: asyncio.Semaphore) -> None:
        version, ok = "?", False
        try:
            async with http.get(self.url) as resp:
                body = await resp.json(content_type=None)
                version = str(body.get("version", "?")) if isinstance(body, dict) else "?"
                ok = resp.status < 500
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        finally:
            slots.release()
        (self._versions if ok else self._errors)[version] += 1
        now = time.monotonic()
        self._recent.append((now, version, ok))
        if len(self._recent) > 2000:
            self._recent = [r for r in self._recent if r[0] >= now - 2.0]
