"""Where route tables (and the endpoints behind them) come from.

The proxy depends only on the small ``TableSource`` protocol. ``FileSource`` serves file mode:
it re-reads the routes file when it changes (polled twice a second) or at once when asked
(SIGHUP), and keeps the last good table when the new text is refused. ``cluster.ClusterSource``
(cluster mode) reads the route-table ConfigMaps and the Services' EndpointSlices through
``webhook.kube`` behind the same protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from typing import Protocol

from webhook.errors import ConfigError
from webhook.proxy.table import Resolver, static_endpoints
from webhook.spec.problems import Problems, at, index
from webhook.spec.routetable import RouteTable, parse_route_table

log = logging.getLogger("canarist.proxy")

Apply = Callable[[RouteTable, Resolver], None]
MAX_LOGGED = 2000  # characters of problems in one log line


def one_line(text: str, limit: int = MAX_LOGGED) -> str:
    """``text`` fit for one log line: line breaks escaped, at most ``limit`` characters."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


def refusal_text(exc: Exception) -> str:
    """What a refused table's log line says about why: every problem of a ``ConfigError``;
    the type and message of anything unexpected."""
    if isinstance(exc, ConfigError):
        return one_line("; ".join(str(p) for p in exc.problems))
    return one_line(f"unexpected {type(exc).__name__}: {exc}")


class TableSource(Protocol):
    async def open(self) -> tuple[RouteTable, Resolver]:
        """The first table; raises ``ConfigError`` when there is no usable one."""

    async def close(self) -> None:
        """Release what ``open`` took (watches, connections)."""

    async def watch(self, apply: Apply) -> None:
        """Call ``apply`` with every later good table, until cancelled."""

    def reload_now(self) -> None:
        """Re-read at once (SIGHUP)."""


def require_endpoints(table: RouteTable, subject: str) -> None:
    """File mode has no cluster to resolve Services in: every backend must list endpoints."""
    problems = Problems()
    for i, route in enumerate(table.routes):
        for key, backend in (("stable", route.stable), ("canary", route.canary)):
            if backend is not None and backend.service is not None:
                problems.add(at(at(index("routes", i), key), "service"),
                             "Service backends need cluster mode (--kubeconfig); in a routes "
                             "file list endpoints: [\"HOST:PORT\"]")
    problems.raise_if_any(ConfigError, subject)


class FileSource:
    """A routes file (YAML or JSON) with only fixed endpoints."""

    def __init__(self, path: str, poll_seconds: float = 0.5) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self._stamp: tuple[int, int, int] | None = None
        self._digest = b""
        self._wake = asyncio.Event()

    def _read(self) -> tuple[str, tuple[int, int, int]]:
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except OSError as exc:
            raise ConfigError(f"cannot read {exc.strerror or exc}", subject=self.path) from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text (byte {exc.start})", subject=self.path) from exc
        return text, (st.st_mtime_ns, st.st_size, st.st_ino)

    def _parse(self, text: str) -> RouteTable:
        table = parse_route_table(text, subject=self.path)
        require_endpoints(table, self.path)
        return table

    def load(self) -> tuple[RouteTable, Resolver]:
        text, stamp = self._read()
        table = self._parse(text)
        self._stamp = stamp
        self._digest = hashlib.sha256(text.encode()).digest()
        return table, static_endpoints

    async def open(self) -> tuple[RouteTable, Resolver]:
        return self.load()

    async def close(self) -> None:
        pass

    def reload_now(self) -> None:
        """Read, check and apply the file again at once, even unchanged (SIGHUP)."""
        self._stamp = None
        self._digest = b""
        self._wake.set()

    async def watch(self, apply: Apply) -> None:
        while True:
            try:
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self.check(apply)

    def check(self, apply: Apply) -> bool:
        """Re-read the file if it changed; True when a new table was applied. Never raises
        (but for ``BaseException``s): whatever the file holds and whatever goes wrong, a new
        table is refused with one log line and the last good one stays in force."""
        try:
            return self._check(apply)
        except Exception as exc:  # (any content, any bug: the watcher must go on)
            log.error("refused new routes: %s: %s; keeping the last good table", self.path,
                      refusal_text(exc))
            return False

    def _check(self, apply: Apply) -> bool:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError as exc:
            if self._stamp is not None:
                log.warning("routes file %s unreadable (%s); keeping the last good table",
                            self.path, exc.strerror)
                self._stamp = None
            return False
        if stamp == self._stamp:
            return False
        try:
            text, stamp = self._read()
            digest = hashlib.sha256(text.encode()).digest()
            self._stamp = stamp
            if digest == self._digest:
                return False
            self._digest = digest
            table = self._parse(text)
        except ConfigError as exc:
            log.error("refused new routes: %s: %s; keeping the last good table", exc.subject,
                      refusal_text(exc))
            return False
        apply(table, static_endpoints)
        log.info("routes reloaded from %s: %d route(s)", self.path, len(table.routes))
        return True
