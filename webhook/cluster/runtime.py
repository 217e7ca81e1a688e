"""Running the embedded cluster: one event loop with the API server and its components.

``Cluster`` starts, in order, the in-process API (``ClusterAPI`` with the admission chain), the
HTTPS server and the components, each an ``async def run(api, stop_event)`` task:

- ``gc``: garbage collector and namespace cleaner (``webhook.cluster.gc``);
- ``controllers``: Deployment/ReplicaSet/EndpointSlice (``controllers.run.run_controllers``);
- ``kubelet``: the node: demo-app pods as local HTTP servers, pods of canarist's image as
  processes (``kubelet.run.run_kubelet``; it gets a ``NodeConfig``: the pods' address pool,
  the API server's address on the node, the ``images`` that run as canarist);
- ``webhook``: canarist's admission webhook, served and registered
  (``webhook_component.run_webhook``);
- ``proxy``: ``canarist proxy`` in cluster mode, in its own process, when the cluster is given
  ``proxy=ProxySettings(...)`` (``proxy_component.run_proxy``; ``canarist up`` does);
- ``reconciler``: canarist's release reconciler, a client of the API over HTTPS with the
  kubeconfig passed to it, and the proxy's admin address for the ``builtin`` analysis provider
  when the proxy runs (``webhook.release.component.run_reconciler``).

The reconciler and the proxy authenticate as their own ServiceAccounts, authorized by RBAC
(``webhook.cluster.identities``): the kubeconfig a component gets is its identity's; the admin
kubeconfig (``.kubeconfig``) is the user's. The reconciler's identity exists whenever the webhook
or the reconciler runs (``.reconciler_kubeconfig``), so a reconciler run outside (``--without
reconciler``, the tests, ``demo``) is the user the webhook trusts with ``canarist.io/status``.

The webhook and the reconciler get the cluster policies of ``Cluster(policies=...)``
(``canarist up --policy FILE``) when their entry point takes ``policies``.

A component whose module is not there yet is skipped with a log line. ``--without NAME``
(``Cluster(without={...})``) leaves one out, e.g. to run it as its own process.

``start_in_thread()`` runs a whole cluster on its own loop in a background thread and
returns a ``RunningCluster`` (``.kubeconfig``, ``.url``, ``.api``, ``.call(coro)``,
``.stop()``) so synchronous code — the official client, kubectl — can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from webhook.cluster import apiservice, identities
from webhook.cluster.admission.chain import AdmissionChain
from webhook.cluster.api import ClusterAPI
from webhook.cluster.gc import GarbageCollector
from webhook.cluster.http.server import APIServer
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.config import NodeConfig
from webhook.cluster.pki import Credentials, write_kubeconfig
from webhook.cluster.proxy_component import ProxyProcess, ProxySettings
from webhook.errors import ConfigError
from webhook.policy import EMPTY, PolicySet

log = logging.getLogger(__name__)
T = TypeVar("T")
# ``async def run(api, stop_event[, *, ready: asyncio.Event])``: a component that takes
# ``ready`` sets it once usable, and start() waits for that (at most ``ready_timeout``).
Runner = Callable[[ClusterAPI, asyncio.Event], Awaitable[None]]

# name -> "module:function" of an ``async def run(api, stop_event)`` entry point
COMPONENTS: dict[str, str] = {
    "gc": "",
    "controllers": "webhook.cluster.controllers.run:run_controllers",
    "kubelet": "webhook.cluster.kubelet.run:run_kubelet",
    "webhook": "webhook.cluster.webhook_component:run_webhook",
    "proxy": "webhook.cluster.proxy_component:run_proxy",
    "reconciler": "webhook.release.component:run_reconciler",
}


async def _run_gc(api: ClusterAPI, stop: asyncio.Event) -> None:
    await GarbageCollector(api).run(stop)


def check_components(names: Iterable[str]) -> frozenset[str]:
    bad = [n for n in names if n not in COMPONENTS]
    if bad:
        raise ConfigError(f"--without: unknown component {', '.join(map(repr, bad))} "
                          f"(components: {', '.join(COMPONENTS)})")
    return frozenset(names)


def _load(spec: str) -> Runner | None:
    module, _, func = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    fn: Runner | None = getattr(mod, func, None)
    return fn


@dataclass
class Cluster:
    port: int = 0
    kubeconfig: Path | None = None
    without: frozenset[str] = frozenset()
    history_size: int = 50_000
    bookmark_interval: float = 10.0
    ready_timeout: float = 10.0
    proxy: ProxySettings | None = None  # run canarist proxy too (component "proxy")
    # cluster policies for the webhook and the reconciler (``canarist up --policy FILE``)
    policies: PolicySet = EMPTY
    images: tuple[str, ...] = ()  # more repositories that run as canarist (``up --image``)
    api: ClusterAPI = field(init=False)
    server: APIServer = field(init=False)
    started: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.without = check_components(self.without)
        self.api = ClusterAPI(history_size=self.history_size,
                              bookmark_interval=self.bookmark_interval)
        self.api.admission = AdmissionChain(self.api)
        # Pods reach the API server on the node's address (their own 127.0.0.1 is theirs).
        self.pool = AddressPool()
        self.creds = Credentials.generate(extra_ips=(self.pool.host_ip,))
        self.api.auth.publish_root_ca(self.creds.ca.cert_pem)
        self.server = APIServer(self.api, self.creds, port=self.port,
                                extra_hosts=(self.pool.host_ip,))
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._private: tempfile.TemporaryDirectory[str] | None = None
        self.identity_kubeconfigs: dict[str, Path] = {}  # component -> its identity's
        wanted = self.proxy is not None and "proxy" not in self.without
        self.proxy_process = ProxyProcess(self.proxy) if wanted and self.proxy else None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def reconciler_kubeconfig(self) -> Path | None:
        """The kubeconfig of the reconciler's ServiceAccount (the user the webhook trusts)."""
        return self.identity_kubeconfigs.get("reconciler")

    async def _issue_identities(self) -> None:
        wanted = []
        if {"webhook", "reconciler"} - self.without:
            wanted.append(("reconciler", identities.RECONCILER))
        if self.proxy_process is not None:
            wanted.append(("proxy", identities.PROXY))
        if not wanted:
            return
        self._private = tempfile.TemporaryDirectory(prefix="canarist-identities-")  # 0700
        for component, identity in wanted:
            self.identity_kubeconfigs[component] = await identities.kubeconfig_for(
                self.api, identity, Path(self._private.name), self.server.url, self.creds)

    async def start(self) -> None:
        await self.server.start()
        await apiservice.publish(self.api, self.server.host, self.server.port)
        if self.kubeconfig is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="canarist-cluster-")
            self.kubeconfig = Path(self._tmp.name, "kubeconfig")
        write_kubeconfig(self.kubeconfig, self.server.url, self.creds)
        await self._issue_identities()
        readiness: list[asyncio.Event] = []
        for name, spec in COMPONENTS.items():
            if name in self.without or (name == "proxy" and self.proxy_process is None):
                continue
            runner = _run_gc if name == "gc" else _load(spec)
            if runner is None:
                log.info("component %s is not available yet; running without it", name)
                continue
            ready = asyncio.Event()
            params = inspect.signature(runner).parameters
            # a component that talks HTTPS like an outside client takes the kubeconfig
            extra: dict[str, Any] = {}
            if "kubeconfig" in params:
                extra["kubeconfig"] = self.identity_kubeconfigs.get(name, self.kubeconfig)
            if name == "proxy":
                extra["proxy"] = self.proxy_process
            if "policies" in params:
                extra["policies"] = self.policies
            if "proxy_admin_url" in params:  # (known before the proxy listens)
                extra["proxy_admin_url"] = self.proxy_process and self.proxy_process.admin_url
            if "node" in params:
                extra["node"] = NodeConfig(pool=self.pool, api_host=self.pool.host_ip,
                                           api_port=self.server.port,
                                           canarist_images=self.images)
            if "ready" in params:
                run = runner(self.api, self._stop, ready=ready, **extra)  # type: ignore[call-arg]
                readiness.append(ready)
            else:
                run = runner(self.api, self._stop, **extra)
            self._tasks.append(asyncio.create_task(self._guard(name, run),
                                                   name=f"component {name}"))
            self.started.append(name)
        # Ready means usable: caches synced, webhook registered (bounded, never a hang).
        if readiness:
            await asyncio.wait([asyncio.ensure_future(r.wait()) for r in readiness],
                               timeout=self.ready_timeout)

    async def _guard(self, name: str, run: Awaitable[None]) -> None:
        try:
            await run
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("component %s stopped with an error", name)

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=3)
            for task in pending:
                task.cancel()
            if pending:
                _, stuck = await asyncio.wait(pending, timeout=3)
                for task in stuck:
                    log.warning("component task %s did not stop", task.get_name())
        self.api.store.close_watches()  # open watch streams end before the server stops
        await self.server.stop()
        if self.api.admission is not None and isinstance(self.api.admission, AdmissionChain):
            await self.api.admission.close()
        for tmp in (self._tmp, self._private):
            if tmp is not None:
                tmp.cleanup()

    async def serve_until(self, stop: asyncio.Event) -> None:
        await stop.wait()


class RunningCluster:
    """A cluster on its own event loop in a daemon thread."""

    def __init__(self, cluster: Cluster, loop: asyncio.AbstractEventLoop,
                 thread: threading.Thread) -> None:
        self.cluster = cluster
        self.loop = loop
        self._thread = thread

    @property
    def api(self) -> ClusterAPI:
        return self.cluster.api

    @property
    def kubeconfig(self) -> Path:
        assert self.cluster.kubeconfig is not None
        return self.cluster.kubeconfig

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def reconciler_kubeconfig(self) -> Path:
        """The reconciler's kubeconfig (its ServiceAccount): for a reconciler the test runs."""
        path = self.cluster.reconciler_kubeconfig
        assert path is not None, "no reconciler identity: the cluster runs no webhook"
        return path

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine (e.g. ``api.get(...)``) on the cluster's loop and wait for it."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.call(self.cluster.stop(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def start_in_thread(before_start: Callable[[Cluster], None] | None = None,
                    **options: Any) -> RunningCluster:
    """Start a ``Cluster(**options)`` on a new loop in a background thread; ready on return.
    ``before_start(cluster)`` runs before anything is served (e.g. to add an observer of the
    API server's authorization decisions that must see the components' first requests)."""
    loop = asyncio.new_event_loop()
    ready: Future[Cluster] = Future()

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                cluster = Cluster(**options)
                if before_start is not None:
                    before_start(cluster)
                await cluster.start()
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(cluster)

        booting = loop.create_task(boot())
        loop.run_forever()
        booting.cancel()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=main, name="canarist-cluster", daemon=True)
    thread.start()
    cluster = ready.result(30)
    return RunningCluster(cluster, loop, thread)
