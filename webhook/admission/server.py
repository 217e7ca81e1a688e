"""The HTTPS admission server (aiohttp): ``/mutate``, ``/healthz``, ``/readyz``, ``/metrics``.

- ``create_app(config)`` is the aiohttp application factory; its state lives under ``STATE``
  and the certificate watcher runs in its ``cleanup_ctx``.
- ``serve(...)`` is an async context manager that starts the server in-process and yields a
  ``Running`` with the bound port (what ``canarist up`` uses); ``run(config)`` is
  ``canarist webhook``: serve until SIGTERM/SIGINT, then drain.

Draining (the API server keeps reusing keep-alive connections to a terminating pod, so they must
be closed deliberately): ``/readyz`` turns 503, idle keep-alive connections are closed, every
response carries ``Connection: close``; after ``drain_seconds`` the listener stops and requests
in flight get ``shutdown_timeout`` to finish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field

from aiohttp import web

from webhook.admission import headtimeout, jsoncodec
from webhook.admission.alloc import tune_allocator
from webhook.admission.config import MAX_BODY, ServerConfig
from webhook.admission.metrics import CertInfo, Metrics
from webhook.admission.mutate import Decision, Outcome
from webhook.admission.offload import SWITCH_INTERVAL, Decider
from webhook.admission.speccache import SpecCache
from webhook.errors import BadReview
from webhook.policy import EMPTY, PolicySet, PolicyStore
from webhook.tls.reload import ReloadingContext

log = logging.getLogger("canarist.webhook")

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class State:
    """What the handlers share: configuration, metrics, the TLS context, the drain flag, and
    the cluster policies in force (``None``: the webhook runs without policies)."""

    config: ServerConfig
    tls: ReloadingContext
    decider: Decider
    metrics: Metrics = field(default_factory=Metrics)
    draining: bool = False
    policies: PolicyStore | None = None

    def cert_info(self) -> CertInfo:
        return CertInfo(self.tls.not_after, self.tls.reloads, self.tls.failures)


STATE = web.AppKey("canarist_webhook_state", State)


# Keeps a PolicyStore fed (a ConfigMap followed through the API: webhook.kube.policyfeed)
# while the server runs; given by whoever may talk to the API (the CLI, canarist up).
Follower = Callable[[PolicyStore], AbstractAsyncContextManager[None]]


def create_app(config: ServerConfig, follow: Follower | None = None) -> web.Application:
    """The application; loads the certificate now so a bad one fails before listening.

    With ``config.policies`` or ``follow``, reviews are decided under the cluster policies
    (``follow`` keeps them current; ``/readyz`` waits for its first document)."""
    app = web.Application(client_max_size=MAX_BODY)
    store = None
    if config.policies is not None or follow is not None:
        store = PolicyStore(config.policies or EMPTY, "--policy")
        store.synced = follow is None
    decider = Decider(SpecCache(config.spec_cache_bytes), config.review_workers,
                      config.review_budget, config.trusted_users, policies=store)
    tls = ReloadingContext(config.cert_path, config.key_path)
    app[STATE] = State(config, tls, decider, policies=store)
    app.router.add_post("/mutate", handle_mutate)
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/readyz", handle_readyz)
    app.router.add_get("/metrics", handle_metrics)
    app.cleanup_ctx.append(_watch_certificates)
    if follow is not None and store is not None:
        app.cleanup_ctx.append(lambda _: _following(follow, store))
    return app


async def _following(follow: Follower, store: PolicyStore) -> AsyncIterator[None]:
    async with follow(store):
        yield


async def _watch_certificates(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    task = asyncio.create_task(state.tls.watch(state.config.reload_interval))
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    state.decider.close()


# --- handlers ------------------------------------------------------------------------------


async def handle_mutate(request: web.Request) -> web.Response:
    state = request.app[STATE]
    started = time.perf_counter()
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return _refuse(state, request, 413, "too_large", _too_large(length), started)
    async with state.decider.large_body_slot(length):
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(state, request, 413, "too_large", _too_large(None), started)
        try:
            decision = await state.decider.review(body)
        except BadReview as exc:
            return _refuse(state, request, 400, "bad_request", str(exc), started)
    response = web.Response(body=decision.response.to_json(), headers=JSON_HEADERS)
    if state.draining:
        response.force_close()
    elapsed = time.perf_counter() - started
    state.metrics.observe(decision.outcome, elapsed)
    _log_review(decision, elapsed, parse_timeout(request.query_string))
    return response


def _log_review(decision: Decision, elapsed: float, timeout: float | None) -> None:
    level = logging.DEBUG if decision.outcome == Outcome.ALLOWED else logging.INFO
    if log.isEnabledFor(level):
        resp = decision.response
        fields = {
            "uid": resp.uid,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "patch_ops": len(resp.patch),
            "warnings": list(resp.warnings),
            "denied": resp.status.message if resp.status else None,
            "ms": round(elapsed * 1000, 3),
            "timeout": timeout,
        }
        log.log(level, "review", extra={"fields": fields})
    if timeout is not None and elapsed > timeout:
        log.warning(
            "answered after the API server's deadline",
            extra={"fields": {"timeout": timeout, "ms": round(elapsed * 1000, 3)}},
        )


async def handle_healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def handle_readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.draining:
        response = web.Response(status=503, text="draining\n")
        response.force_close()
        return response
    if state.policies is not None and not state.policies.synced:
        return web.Response(status=503, text="waiting for the cluster policies\n")
    return web.Response(text="ok\n")


async def handle_metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    text = state.metrics.render(state.cert_info(), state.policies)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def _refuse(
    state: State, request: web.Request, status: int, outcome: str, message: str, started: float
) -> web.Response:
    body = json.dumps({"code": status, "message": message}).encode()
    response = web.Response(status=status, body=body, headers=JSON_HEADERS)
    if status == 413 or state.draining:
        response.force_close()  # the unread body must not be taken for the next request
    state.metrics.observe(outcome, time.perf_counter() - started)
    log.warning(
        "request refused",
        extra={"fields": {"status": status, "error": message, "peer": request.remote}},
    )
    return response


def _too_large(length: int | None) -> str:
    size = f"{length} bytes" if length is not None else "the body"
    return f"request body too large: {size}, the limit is {MAX_BODY} bytes (3 MiB)"


def parse_timeout(query: str) -> float | None:
    """The API server's ``timeout=10s`` from a query string; None if absent or malformed.

    Read without building a query MultiDict: this runs on every review.
    """
    if "timeout=" not in query:
        return None
    for part in query.split("&"):
        if part.startswith("timeout=") and part.endswith("s"):
            try:
                value = float(part[8:-1])
            except ValueError:
                return None
            return value if 0 < value < float("inf") else None
    return None


# --- running -------------------------------------------------------------------------------


@dataclass
class Running:
    """A server started by ``serve``."""

    host: str
    port: int
    app: web.Application
    runner: web.AppRunner
    stopped: bool = False

    @property
    def state(self) -> State:
        return self.app[STATE]

    def url(self, path: str = "/mutate") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{path}"

    async def drain(self, seconds: float) -> None:
        """Stop taking keep-alive traffic: close idle connections, ``Connection: close``."""
        state = self.state
        if not state.draining:
            state.draining = True
            log.info("draining", extra={"fields": {"seconds": seconds}})
            server = self.runner.server
            if server is not None:
                close_idle_connections(server)
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def stop(self, drain_seconds: float = 0.0) -> None:
        """Drain, stop listening, let requests in flight finish (up to shutdown_timeout), close.

        aiohttp's own shutdown ignores the rest of a request body still arriving, so connections
        are let go one by one first: each closes after its response, idle ones at once.
        """
        if self.stopped:
            return
        await self.drain(drain_seconds)
        for site in list(self.runner.sites):
            await site.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.state.config.shutdown_timeout
        server = self.runner.server
        while server is not None and server.connections and loop.time() < deadline:
            close_idle_connections(server)
            await asyncio.sleep(0.01)
        self.stopped = True
        await self.runner.cleanup()


def serve(
    cert_path: str,
    key_path: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    drain_seconds: float = 0.0,
    reload_interval: float = 2.0,
    shutdown_timeout: float = 10.0,
    trusted_users: frozenset[str] | None = None,
    policies: PolicySet | None = None,
    follow: Follower | None = None,
) -> AbstractAsyncContextManager[Running]:
    """Serve the webhook in this event loop; yields a ``Running`` once listening.

    ``port=0`` takes any free port (``Running.port`` says which). On exit the server drains for
    ``drain_seconds`` and stops::

        async with serve("tls.crt", "tls.key") as webhook:
            register(f"https://127.0.0.1:{webhook.port}/mutate")
    """
    config = ServerConfig(
        cert_path,
        key_path,
        host,
        port,
        drain_seconds=drain_seconds,
        reload_interval=reload_interval,
        shutdown_timeout=shutdown_timeout,
        trusted_users=trusted_users,
        policies=policies,
    )
    return serving(config, follow)


def close_idle_connections(server: web.Server) -> None:
    """Close the keep-alive connections that wait for a request.

    The others close after their response (draining sets ``Connection: close``). aiohttp's
    ``pre_shutdown`` only marks idle connections and leaves their sockets open until the final
    shutdown, while the API server would keep sending on them. The idle test is aiohttp's own
    (its keep-alive timer's): the handler awaits the next request and none is queued.
    """
    for conn in server.connections:
        waiter = getattr(conn, "_waiter", None)
        queued = getattr(conn, "_messages", None)
        if waiter is not None and not waiter.done() and not queued:
            conn.force_close()


@asynccontextmanager
async def serving(config: ServerConfig, follow: Follower | None = None) -> AsyncIterator[Running]:
    """``serve`` with a full ``ServerConfig``."""
    app = create_app(config, follow)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=config.keepalive_timeout,
        shutdown_timeout=config.shutdown_timeout,
    )
    await runner.setup()
    headtimeout.install(runner, config.header_timeout)
    running = Running(config.host, 0, app, runner)
    try:
        site = web.TCPSite(
            runner,
            config.host,
            config.port,
            ssl_context=app[STATE].tls.context,
            reuse_address=True,
            backlog=512,
        )
        await site.start()
        running.port = runner.addresses[0][1]
        yield running
        await running.stop(config.drain_seconds)
    finally:
        if not running.stopped:
            await runner.cleanup()


def run(config: ServerConfig, follow: Follower | None = None) -> None:
    """``canarist webhook``: serve until SIGTERM or SIGINT, then drain and exit."""
    tuned = tune_allocator()  # TLS read buffers from the heap, not an mmap each (see alloc.py)
    sys.setswitchinterval(SWITCH_INTERVAL)  # the event loop's turn comes soon (see offload.py)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the "fast" extra is optional
        asyncio.run(_serve_until_signalled(config, tuned, follow))
    else:
        uvloop.run(_serve_until_signalled(config, tuned, follow))


async def _serve_until_signalled(config: ServerConfig, tuned: bool = False,
                                 follow: Follower | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serving(config, follow) as running:
        log.info(
            "serving",
            extra={
                "fields": {
                    "address": running.url(""),
                    "cert": config.cert_path,
                    "json": jsoncodec.name(),
                    "malloc_tuned": tuned,
                    "trusted_users": sorted(config.trusted_users or ()),
                    "policies": "followed" if follow is not None else (
                        len(config.policies) if config.policies is not None else None),
                }
            },
        )
        if config.trusted_users is None:
            log.warning(
                "no --trusted-user: anyone who can write a Deployment can change its "
                "canarist.io/status; pass the reconciler's user name"
            )
        await stop.wait()
    log.info("stopped")
