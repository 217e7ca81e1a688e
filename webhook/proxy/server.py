"""One proxy listener: accept, keep-alive housekeeping, graceful drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from webhook.proxy.client import ClientConn
from webhook.proxy.context import ProxyContext, ProxyOptions
from webhook.proxy.table import LiveTable, Resolver
from webhook.spec.routetable import RouteTable

log = logging.getLogger("canarist.proxy")


class ProxyServer:
    """The data plane of one worker: a listening socket and the shared context."""

    def __init__(self, table: RouteTable, resolve: Resolver, options: ProxyOptions) -> None:
        self.options = options
        self.ctx = ProxyContext(LiveTable(table, resolve, version_header=options.version_header),
                                options)
        self._server: asyncio.Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def apply(self, table: RouteTable, resolve: Resolver) -> None:
        """Build and install a new live table (atomic between requests)."""
        self.ctx.swap(LiveTable(table, resolve, previous=self.ctx.table,
                                version_header=self.options.version_header))

    async def start(self, host: str, port: int, *, reuse_port: bool = False,
                    sock: socket.socket | None = None) -> None:
        loop = self.ctx.loop
        ctx = self.ctx
        self.ctx.mirror.start()
        if sock is not None:
            self._server = await loop.create_server(lambda: ClientConn(ctx), sock=sock,
                                                    backlog=2048)
        else:
            self._server = await loop.create_server(
                lambda: ClientConn(ctx), host, port, reuse_port=reuse_port or None, backlog=2048
            )
        self._housekeeper = loop.create_task(self._housekeep())

    async def _housekeep(self) -> None:
        """Idle keep-alive connections, slow request heads, lingering refused connections and
        upstream response timeouts, checked by sweeps.

        Sweeping beats one timer per request on the hot path; a timeout fires within a quarter
        of its length (at most a second) late.
        """
        options = self.options
        interval = min(1.0, options.upstream_timeout / 4, options.keepalive_timeout / 4,
                       options.header_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = self.ctx.loop.time()
            limit = options.keepalive_timeout
            head_limit = options.header_timeout
            for client in list(self.ctx.clients):
                current = client.current
                if current is not None:
                    current.check_timeout(now)
                elif client.linger_until:
                    if now > client.linger_until:
                        client.close()
                elif client.head_since and now - client.head_since > head_limit:
                    client.head_timed_out()
                elif client.idle_for(now) > limit:
                    client.close()

    async def drain(self, wait: float | None = None) -> None:
        """Stop accepting, let requests in flight finish (up to the timeout), then close."""
        ctx = self.ctx
        ctx.draining = True
        if self._server is not None:
            self._server.close()
        now = ctx.loop.time()
        for client in list(ctx.clients):
            if (client.current is None and client.tunnel is None) or client.idle_for(now) > 0:
                client.close()
        if ctx.in_flight > 0:
            ctx.idle_event.clear()
            wait = self.options.drain_timeout if wait is None else wait
            try:
                async with asyncio.timeout(wait):
                    while ctx.in_flight > 0:
                        ctx.idle_event.clear()
                        await ctx.idle_event.wait()
            except TimeoutError:
                log.warning("drain: %d request(s) still in flight after %gs; closing them",
                            ctx.in_flight, wait)
        await self.close()

    async def close(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        if self._server is not None:
            self._server.close()
            for client in list(self.ctx.clients):
                if client.transport is not None:
                    client.transport.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        await self.ctx.mirror.close()
        self.ctx.pool.close()
