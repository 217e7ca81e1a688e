"""``--auth token``: what a user may see and do, decided by the API server, remembered briefly.

Every request carries the user's bearer token. Reads are served from the shared cache, but only
what the user may read: ``SelfSubjectAccessReview`` (asked with the user's own token, as
``kubectl auth can-i`` does) for ``list deployments`` cluster-wide, else per namespace of the
cache; ``get deployments`` for one release, ``list pods`` and ``list events`` for those sections
of its page. Answers are remembered ``ttl`` seconds per token digest (bounded), and concurrent
identical questions share one review. Actions are not checked here: they are written with the
user's token, so the API server's RBAC (and admission) decides them. A token the API server
rejects raises ``Forbidden`` with status 401.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from webhook.kube.users import Access, UserClients, can_i, digest

LIST_ALL = Access("list", "deployments", "apps")


def list_in(namespace: str) -> Access:
    return Access("list", "deployments", "apps", namespace)


def get_release(namespace: str, name: str) -> Access:
    return Access("get", "deployments", "apps", namespace, name)


def list_pods(namespace: str) -> Access:
    return Access("list", "pods", "", namespace)


def list_events(namespace: str) -> Access:
    return Access("list", "events", "", namespace)


class AccessCache:
    def __init__(self, users: UserClients, *, ttl: float = 30.0, size: int = 4096,
                 parallel: int = 8, clock: Callable[[], float] = time.monotonic) -> None:
        self.users = users
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self.reviews = 0  # SelfSubjectAccessReviews asked (for tests and the benchmark)
        self._answers: OrderedDict[tuple[str, Access], tuple[float, bool]] = OrderedDict()
        self._asking: dict[tuple[str, Access], asyncio.Future[bool]] = {}
        self._parallel = asyncio.Semaphore(parallel)

    async def allowed(self, token: str, access: Access) -> bool:
        key = (digest(token), access)
        hit = self._answers.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        pending = self._asking.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            async with self._parallel:
                self.reviews += 1
                answer = await can_i(await self.users.get(token), access)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._asking.pop(key, None)
        future.set_result(answer)
        self._answers[key] = (self.clock() + self.ttl, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return answer

    async def namespaces(self, token: str, candidates: Iterable[str]) -> frozenset[str] | None:
        """The namespaces among ``candidates`` whose Deployments the user may list; ``None``
        when the user may list them in every namespace."""
        if await self.allowed(token, LIST_ALL):
            return None
        names = sorted(set(candidates))
        answers = await asyncio.gather(*(self.allowed(token, list_in(ns)) for ns in names))
        return frozenset(ns for ns, ok in zip(names, answers, strict=True) if ok)
