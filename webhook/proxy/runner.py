"""Running the proxy: one worker in-process, or several worker processes on one port.

With one worker everything (data plane, file watch, admin listener) shares one event loop. With
``--workers N`` the parent spawns N processes that each bind the port with ``SO_REUSEPORT`` and
run their own table, pool and exact split; the parent serves the admin listener from the merged
metrics the workers report every second, forwards SIGHUP, and turns SIGTERM into a drain of all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import threading
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from webhook.errors import ConfigError, Problem
from webhook.kube.config import ClientOptions, check_namespace
from webhook.proxy.admin import admin_app, start_admin
from webhook.proxy.context import ProxyOptions
from webhook.proxy.limits import parse_networks
from webhook.proxy.metrics import Snapshot, merge
from webhook.proxy.server import ProxyServer
from webhook.proxy.source import FileSource, TableSource
from webhook.proxy.table import describe

log = logging.getLogger("canarist.proxy")
REPORT_SECONDS = 1.0


ALL_NAMESPACES = "all"


@dataclass(frozen=True)
class ProxyConfig:
    host: str
    port: int
    routes: str | None = None  # file mode
    workers: int = 1
    admin: tuple[str, int] | None = None
    options: ProxyOptions = field(default_factory=ProxyOptions)
    poll_seconds: float = 0.5
    cluster: ClientOptions | None = None  # cluster mode: how to reach the API server
    namespace: str | None = None  # cluster mode: None the context's, "" every namespace
    sync_timeout: float = 30.0  # cluster mode: longest wait for the first lists at start

    def source(self) -> TableSource:
        """A new table source (each worker process follows the routes itself)."""
        if self.cluster is not None:
            from webhook.proxy.cluster import ClusterSource

            return ClusterSource(self.cluster, self.namespace, sync_timeout=self.sync_timeout)
        assert self.routes is not None
        return FileSource(self.routes, self.poll_seconds)


def parse_listen(text: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[IPv6]:PORT``; port 0 picks a free one) or a ``ConfigError``."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"{flag}: must be HOST:PORT with a port 0-65535, got {text!r}")
    return host, int(port_text)


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    """Check the flags of ``canarist proxy``; every problem is named with its flag."""
    problems: list[Problem] = []
    cluster_mode = bool(args.kubeconfig or args.cluster)
    if not cluster_mode:
        for flag, value in (("--context", args.context), ("--namespace", args.namespace)):
            if value:
                problems.append(Problem(flag, "only for cluster mode (--kubeconfig or "
                                              "--cluster)"))
    bounded = (("--workers", args.workers, 1, 64),
               ("--mirror-queue", args.mirror_queue, 0, 1 << 20),
               ("--mirror-max-body", args.mirror_max_body, 0, 1 << 30),
               ("--window", args.window, 1, 3600),
               ("--max-uri-bytes", args.max_uri_bytes, 64, 1 << 20),
               ("--max-field-bytes", args.max_field_bytes, 64, 1 << 20),
               ("--max-fields", args.max_fields, 1, 10000),
               ("--max-head-bytes", args.max_head_bytes, 256, 1 << 22))
    for flag, value, low, high in bounded:
        if not low <= value <= high:
            problems.append(Problem(flag, f"must be between {low} and {high}, got {value}"))
    for flag, seconds in (("--connect-timeout", args.connect_timeout),
                          ("--upstream-timeout", args.upstream_timeout),
                          ("--keepalive-timeout", args.keepalive_timeout),
                          ("--drain-timeout", args.drain_timeout),
                          ("--mirror-timeout", args.mirror_timeout),
                          ("--header-timeout", args.header_timeout)):
        if not 0 < seconds <= 3600:
            problems.append(Problem(flag, f"must be more than 0 and at most 3600 seconds, "
                                          f"got {seconds}"))
    if args.max_head_bytes < max(args.max_uri_bytes, args.max_field_bytes):
        problems.append(Problem("--max-head-bytes", "must be at least --max-uri-bytes and "
                                f"--max-field-bytes, got {args.max_head_bytes}"))
    trusted = tuple(t for value in args.trusted_proxies for t in value.split(",") if t.strip())
    try:
        parse_networks(trusted)
    except ValueError as exc:
        problems.append(Problem("--trusted-proxies", str(exc)))
    if problems:
        raise ConfigError(problems)
    host, port = parse_listen(args.listen, "--listen")
    admin = parse_listen(args.admin_listen, "--admin-listen") if args.admin_listen else None
    options = ProxyOptions(
        version_header=not args.no_version_header, connect_timeout=args.connect_timeout,
        upstream_timeout=args.upstream_timeout, keepalive_timeout=args.keepalive_timeout,
        drain_timeout=args.drain_timeout, mirror_timeout=args.mirror_timeout,
        mirror_queue=args.mirror_queue, mirror_max_body=args.mirror_max_body,
        window_seconds=args.window, header_timeout=args.header_timeout,
        max_uri_bytes=args.max_uri_bytes, max_field_bytes=args.max_field_bytes,
        max_fields=args.max_fields, max_head_bytes=args.max_head_bytes,
        trusted_proxies=tuple(t.strip() for t in trusted),
    )
    if not cluster_mode:
        return ProxyConfig(host, port, args.routes, args.workers, admin, options)
    namespace = args.namespace
    if namespace == ALL_NAMESPACES:
        namespace = ""
    elif namespace is not None:
        check_namespace(namespace)
    cluster = ClientOptions(kubeconfig=args.kubeconfig, context=args.context,
                            namespace=namespace or None)
    return ProxyConfig(host, port, None, args.workers, admin, options, cluster=cluster,
                       namespace=namespace)


def use_fast_loop() -> str:
    """Install uvloop when it is available; the name of the loop in use."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def run(config: ProxyConfig) -> int:
    """Blocking entry point of ``canarist proxy``; the routes file (or the kubeconfig and
    context) is checked first, so bad input stops it before it listens."""
    if config.cluster is not None:
        from webhook.kube.config import load

        load(config.cluster)  # ConfigError here: refuse to start
    else:
        assert config.routes is not None
        FileSource(config.routes).load()
    loop_name = use_fast_loop()
    log.info("event loop: %s", loop_name)
    if config.workers <= 1:
        asyncio.run(run_worker(config, admin=True))
    else:
        asyncio.run(supervise(config))
    return 0


async def run_worker(config: ProxyConfig, *, admin: bool, report: Connection | None = None,
                     reuse_port: bool = False) -> None:
    source = config.source()
    table, resolve = await source.open()
    proxy = ProxyServer(table, resolve, config.options)
    await proxy.start(config.host, config.port, reuse_port=reuse_port)
    # what start-up made lives as long as the process: keep it out of every later collection
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, source.reload_now)
    tasks = [loop.create_task(source.watch(proxy.apply))]
    runner = None
    if admin and config.admin is not None:
        app = admin_app(proxy.ctx.metrics.snapshot, config.options.window_seconds,
                        lambda: not proxy.ctx.draining,
                        lambda: [{"pid": os.getpid(), "routes": describe(proxy.ctx.table)}])
        runner, admin_port = await start_admin(app, *config.admin)
        log.info("admin listening on http://%s:%d (/metrics, /summary)", config.admin[0],
                 admin_port)
    if report is not None:
        report.send({"ready": True, "port": proxy.port, "routes": describe(proxy.ctx.table)})
        tasks.append(loop.create_task(_report(proxy, report)))
    log.info("proxy listening on %s:%d with %d route(s)", config.host, proxy.port,
             len(table.routes))
    await stop.wait()
    log.info("draining: %d request(s) in flight", proxy.ctx.in_flight)
    for task in tasks:
        task.cancel()
    await source.close()
    await proxy.drain()
    if report is not None:
        with contextlib.suppress(OSError):
            report.send({"snapshot": proxy.ctx.metrics.snapshot()})
    if runner is not None:
        await runner.cleanup()
    log.info("stopped")


async def _report(proxy: ProxyServer, report: Connection) -> None:
    while True:
        await asyncio.sleep(REPORT_SECONDS)
        try:
            report.send({"snapshot": proxy.ctx.metrics.snapshot(),
                         "routes": describe(proxy.ctx.table)})
        except OSError:
            return


def _worker_main(config: ProxyConfig, report: Connection, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] "
                        "%(levelname)s %(message)s")
    use_fast_loop()
    worker_config = replace(config, port=port, workers=1, admin=None)
    asyncio.run(run_worker(worker_config, admin=False, report=report, reuse_port=True))


class _Worker:
    def __init__(self, ctx: Any, config: ProxyConfig, port: int) -> None:
        receive, send = ctx.Pipe(duplex=False)
        self.conn: Connection = receive
        self.process = ctx.Process(target=_worker_main, args=(config, send, port), daemon=True)
        self.process.start()
        send.close()
        self.snapshot: Snapshot = {"series": {}, "window": {}, "mirror": {}}
        self.routes: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            if "snapshot" in message:
                self.snapshot = message["snapshot"]
            if "routes" in message:
                self.routes = message["routes"]
            if message.get("ready"):
                self.ready.set()


async def supervise(config: ProxyConfig) -> None:
    loop = asyncio.get_running_loop()
    probe = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((config.host, config.port))
    port = probe.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    workers = [_Worker(ctx, config, port) for _ in range(config.workers)]
    for worker in workers:
        await loop.run_in_executor(None, worker.ready.wait, 30.0)
    probe.close()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _signal_all(workers, signal.SIGHUP))
    retired: list[_Worker] = []

    def snapshot() -> Snapshot:
        return merge([w.snapshot for w in (*retired, *workers)])

    runner = None
    if config.admin is not None:
        app = admin_app(snapshot, config.options.window_seconds, lambda: not stop.is_set(),
                        lambda: [{"pid": w.process.pid, "routes": w.routes} for w in workers])
        runner, admin_port = await start_admin(app, *config.admin)
        log.info("admin listening on http://%s:%d", config.admin[0], admin_port)
    log.info("proxy listening on %s:%d with %d workers", config.host, port, len(workers))
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()
        for i, worker in enumerate(workers):
            if not worker.process.is_alive() and not stop.is_set():
                log.error("worker %d exited with %s; starting a new one", worker.process.pid,
                          worker.process.exitcode)
                retired.append(worker)
                workers[i] = _Worker(ctx, config, port)
    _signal_all(workers, signal.SIGTERM)
    for worker in workers:
        await loop.run_in_executor(None, worker.process.join,
                                   config.options.drain_timeout + 5)
    if runner is not None:
        await runner.cleanup()
    log.info("stopped")


def _signal_all(workers: list[_Worker], sig: int) -> None:
    for worker in workers:
        if worker.process.pid is not None and worker.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, sig)
