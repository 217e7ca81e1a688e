"""What the hand-over tests watch on the embedded cluster: every pod write (a store listener, so
no pod can be created and gone between two polls), bounded load through a real ``canarist
proxy`` process, and a client that stops the reconciler right after a chosen write."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.proxy.test_process import Running
from webhook.cluster.runtime import RunningCluster
from webhook.cluster.store import Event
from webhook.kube.client import KubeClient
from webhook.kube.protocol import JSON, ObjectRef

from .e2e import Harness


class PodLog:
    """Every pod ADDED and DELETED in the cluster, in the order the API server stored them."""

    def __init__(self, cluster: RunningCluster) -> None:
        self.events: list[tuple[float, str, str, str]] = []  # (monotonic, type, namespace, uid)
        self.lock = threading.Lock()
        self.on = True
        cluster.api.store.add_listener(self._on)

    def _on(self, ev: Event) -> None:
        if not self.on or ev.resource != "pods" or ev.type == "MODIFIED":
            return
        md = ev.obj.get("metadata") or {}
        with self.lock:
            self.events.append((time.monotonic(), ev.type, str(md.get("namespace")),
                                str(md.get("uid"))))

    def stop(self) -> None:
        self.on = False

    def created(self, ns: str, after: float) -> list[str]:
        with self.lock:
            return [uid for t, kind, n, uid in self.events
                    if n == ns and kind == "ADDED" and t >= after]

    def peak(self, ns: str, after: float) -> int:
        """The most pod objects of ``ns`` that existed at once from ``after`` on (terminating
        ones included: they exist until the node removes them)."""
        alive: set[str] = set()
        top: int | None = None
        with self.lock:
            for t, kind, n, uid in self.events:
                if n != ns:
                    continue
                if t >= after and top is None:
                    top = len(alive)  # the pods there at ``after``
                if kind == "ADDED":
                    alive.add(uid)
                else:
                    alive.discard(uid)
                if top is not None:
                    top = max(top, len(alive))
            return len(alive) if top is None else top


@dataclass
class Load:
    """``clients`` clients sending GETs through the proxy one after another until stopped, at
    most ``limit`` requests or ``seconds``; every answer that is not a 200 is a failure."""

    url: str
    clients: int = 4
    limit: int = 20_000
    seconds: float = 90.0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _client(self, http: aiohttp.ClientSession, deadline: float) -> None:
        while not self._stop.is_set() and self.sent < self.limit and time.monotonic() < deadline:
            self.sent += 1
            try:
                async with http.get(self.url) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status != 200:
                        self.failed.append(f"{resp.status}: {body}")
                    else:
                        version = str(body.get("version"))
                        self.versions[version] = self.versions.get(version, 0) + 1
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                self.failed.append(repr(exc))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            deadline = time.monotonic() + self.seconds
            tasks = [asyncio.create_task(self._client(http, deadline))
                     for _ in range(self.clients)]
            try:
                yield self
            finally:
                self._stop.set()
                await asyncio.gather(*tasks)


@asynccontextmanager
async def proxy_for(h: Harness) -> AsyncIterator[Running]:
    """A ``canarist proxy`` process following the namespace's route tables."""
    proxy = Running(["--kubeconfig", str(h.cluster.kubeconfig), "--namespace", h.ns,
                     "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]).started()
    try:
        yield proxy
    finally:
        assert proxy.stop() == 0


Matcher = Callable[[str, ObjectRef, Any, dict[str, Any]], bool]


class Halting:
    """A ``KubeClient`` that, right after the first write ``matcher`` accepts, never returns:
    the reconciler using it is as good as killed at that point (``Harness.stop`` cancels it)."""

    def __init__(self, client: KubeClient, matcher: Matcher) -> None:
        self._client = client
        self._matcher = matcher
        self.halted = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def _after(self, verb: str, ref: ObjectRef, body: Any, kw: dict[str, Any],
                     result: Any) -> Any:
        if not self.halted.is_set() and self._matcher(verb, ref, body, kw):
            self.halted.set()
            await asyncio.Event().wait()  # dead: nothing after this write happens
        return result

    async def patch(self, ref: ObjectRef, patch: Any, **kw: Any) -> JSON:
        result = await self._client.patch(ref, patch, **kw)
        return await self._after("patch", ref, patch, kw, result)  # type: ignore[no-any-return]

    async def delete(self, ref: ObjectRef, **kw: Any) -> bool:
        result = await self._client.delete(ref, **kw)
        return await self._after("delete", ref, None, kw, result)  # type: ignore[no-any-return]

    async def create(self, obj: JSON) -> JSON:
        result = await self._client.create(obj)
        ref = ObjectRef.of(obj)
        return await self._after("create", ref, obj, {}, result)  # type: ignore[no-any-return]
