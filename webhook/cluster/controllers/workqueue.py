"""The embedded controllers' work queue and worker pool.

The queue is the product's ``webhook.kube.workqueue.WorkQueue`` (client-go ``workqueue``
semantics: a key is never handed to two workers at once, ``add_after`` keeps the earliest
deadline, ``add_rate_limited`` backs off per key until ``forget``) with the shorter backoff of
the in-process controllers: 5 ms doubling up to 10 s, and client-go's FIFO order for keys whose
delay ran out (the product's reconciler serves those first; upstream controllers do not).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from webhook.cluster.controllers.objects import Key, Obj, key_of
from webhook.errors import APIStatusError
from webhook.kube import workqueue

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class WorkQueue(workqueue.WorkQueue[K]):
    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 10.0) -> None:
        super().__init__(base_delay=base_delay, max_delay=max_delay, due_first=False)


class Retry(Exception):
    """Raised by a sync to ask for a rate-limited requeue without logging an error."""


@contextmanager
def retry_on_conflict() -> Iterator[None]:
    """A write the API server refused as 404 or 409 raises ``Retry``: the cache the sync read
    was stale, so the key is synced again once the informer caught up. Other errors pass."""
    try:
        yield
    except APIStatusError as exc:
        if exc.status in (404, 409):
            raise Retry() from exc
        raise


def enqueue_key(queue: WorkQueue[Key]) -> Callable[[str, Obj | None, Obj | None], None]:
    """An informer handler queueing the key of the object each event is about."""

    def handler(etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is not None:
            queue.add(key_of(obj))

    return handler


async def run_workers(queue: WorkQueue[K], sync: Callable[[K], Awaitable[None]],
                      workers: int, name: str) -> None:
    """``workers`` coroutines draining ``queue`` until cancelled."""

    async def worker() -> None:
        while (key := await queue.get()) is not None:
            try:
                await sync(key)
                queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Retry:
                queue.add_rate_limited(key)
            except Exception as exc:
                log.debug("%s: sync of %s failed: %s", name, key, exc)
                queue.add_rate_limited(key)
            finally:
                queue.done(key)

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        queue.shutdown()
