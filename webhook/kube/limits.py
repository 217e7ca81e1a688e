"""Client-side limits: a token bucket for QPS/burst and the retry backoff. Pure and clock-driven.

``TokenBucket`` works like client-go's ``flowcontrol`` limiter (golang.org/x/time/rate): up to
``burst`` requests go at once, then ``qps`` per second. ``reserve()`` takes a token and returns
how long the caller must wait before using it (tokens may be borrowed from the future, so
concurrent callers queue up in order instead of all waking at once). It is thread-safe: callers
sleep outside the lock.

``Backoff`` gives the delay before retry ``n`` (0-based): exponential from ``base``, capped at
``cap``, with "equal jitter" (half fixed, half random) so retries of many clients spread out
without ever dropping to zero. A server's ``Retry-After`` raises the delay (up to ``max_wait``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class TokenBucket:
    def __init__(
        self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if qps > 0 and burst < 1:
            raise ValueError(f"burst must be at least 1 when qps is set, got {burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0

    def reserve(self) -> float:
        """Take one token; seconds to wait before the request may go (0 when one was ready)."""
        if self.unlimited:
            return 0.0
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._stamp)
            self._stamp = now
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.qps

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> float:
        delay = self.reserve()
        if delay > 0:
            sleep(delay)
        return delay


@dataclass(frozen=True)
class Backoff:
    attempts: int = 6  # tries in all, the first included
    base: float = 0.1
    factor: float = 2.0
    cap: float = 5.0
    max_wait: float = 30.0  # longest honoured Retry-After

    def delay(
        self,
        retry: int,
        *,
        server_hint: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        step = min(self.cap, self.base * self.factor ** max(0, retry))
        jittered = step / 2 + rand() * step / 2
        if server_hint is not None and server_hint > jittered:
            return min(self.max_wait, server_hint)
        return jittered

    def total_bound(self) -> float:
        """The longest all retries can wait together (ignoring Retry-After)."""
        return sum(min(self.cap, self.base * self.factor**n) for n in range(self.attempts - 1))
