"""Where a review is decided: on the event loop when that is cheap, in a bounded pool when not.

A review with a small body whose canary spec is cached (a Deployment's usual updates) is decided
on the event loop: a few hundred microseconds. Anything that may cost more (parsing annotations
not seen before; decoding and hashing a large body) runs in a small thread pool, with a time
budget from the moment it was received: a YAML parse past it stops, and the review is denied
saying so. Large bodies are read only when one of a few slots is free, so the memory that
reviews in flight take is bounded too. While the pool works, the event loop keeps answering
the other reviews (the GIL is handed over every ``SWITCH_INTERVAL``).

Every unexpected failure of a decision becomes a denial (HTTP 200, code 500 in the review's
status) and one log line; its traceback is logged once per place it comes from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, nullcontext

from webhook.admission.mutate import Decision, decide, deny
from webhook.admission.policyreview import PolicyMatcher
from webhook.admission.review import ReviewRequest, parse_review
from webhook.admission.speccache import NeedsParse, SpecCache, SpecLookup, cached_only, parsing
from webhook.spec import boundedyaml

log = logging.getLogger("canarist.webhook")

INLINE_BODY = 64 * 1024  # larger bodies are decoded and decided in the pool
# How long a busy pool thread keeps the GIL while the event loop waits for it (Python's default
# is 5 ms, several of which add up in one review); set by ``server.run`` for the process.
SWITCH_INTERVAL = 0.0005
POOL_NICENESS = 10  # the pool threads' nice value on Linux


def _lower_priority() -> None:
    """A pool thread yields the CPU to the event loop's: the OS schedules threads, not the
    GIL, and a costly review should wait rather than the reviews the loop answers."""
    with contextlib.suppress(OSError, AttributeError):  # Linux: threads have their own nice
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), POOL_NICENESS)


class Decider:
    """Decides reviews for the server: ``await decider.review(body)``."""

    def __init__(self, cache: SpecCache, workers: int = 2, budget: float = 2.0,
                 trusted: frozenset[str] | None = None,
                 policies: PolicyMatcher | None = None) -> None:
        self.cache = cache
        self.budget = budget
        self.trusted = trusted
        self.policies = policies
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="canarist-review",
                                       initializer=_lower_priority)
        self.slots = workers * 2
        self._semaphore: asyncio.Semaphore | None = None
        self._inline: SpecLookup = cached_only(cache)
        self._parsing: SpecLookup = parsing(cache)
        self._traced: set[tuple[str, str, int]] = set()
        self.offloaded = 0

    def large_body_slot(self, length: int | None) -> AbstractAsyncContextManager[object]:
        """Hold while reading and deciding a body over ``INLINE_BODY`` (or of unknown size)."""
        if length is not None and length <= INLINE_BODY:
            return nullcontext()
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        return self._semaphore

    async def review(self, body: bytes) -> Decision:
        """The decision; raises ``BadReview`` for a body that is not an AdmissionReview."""
        received = time.monotonic()
        if len(body) <= INLINE_BODY:
            req = parse_review(body)
            try:
                return self._decide(req, self._inline)
            except NeedsParse:
                return await self._offload(lambda: self._decide(req, self._parsing), received)
        return await self._offload(lambda: self._decide_body(body, received), received)

    async def _offload(self, work: Callable[[], Decision], received: float) -> Decision:
        self.offloaded += 1
        loop = asyncio.get_running_loop()
        deadline = received + self.budget

        def bounded() -> Decision:
            with boundedyaml.time_budget(deadline - time.monotonic()):
                return work()

        future: Awaitable[Decision] = loop.run_in_executor(self.pool, bounded)
        return await future

    def _decide_body(self, body: bytes, received: float) -> Decision:
        req = parse_review(body)
        if time.monotonic() > received + self.budget:
            return deny(req, f"the webhook could not check this object within {self.budget:g}s "
                             "(too many large reviews at once); retry", code=503)
        return self._decide(req, self._parsing)

    def _decide(self, req: ReviewRequest, specs: SpecLookup) -> Decision:
        try:
            return decide(req, specs, trusted=self.trusted, policies=self.policies)
        except NeedsParse:
            raise
        except Exception as exc:  # a bug: deny with one log line, never an HTTP 500
            self._log_failure(exc)
            return deny(req, f"internal error ({type(exc).__name__}); see the webhook's log",
                        code=500)

    def _log_failure(self, exc: Exception) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        site = (type(exc).__name__, frames[-1].filename, frames[-1].lineno or 0) if frames \
            else (type(exc).__name__, "", 0)
        message = str(exc)
        fields = {"error": type(exc).__name__,
                  "detail": message if len(message) <= 200 else message[:197] + "..."}
        if site in self._traced:
            log.error("review failed", extra={"fields": fields})
        else:
            self._traced.add(site)
            log.error("review failed", exc_info=exc, extra={"fields": fields})

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
