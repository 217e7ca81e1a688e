"""A time limit on reading a request head, like nginx's ``client_header_timeout``.

A connection must send a whole request head (request line and headers) within ``seconds`` of
being accepted, and each later head within ``seconds`` of its first byte; otherwise it gets a
``408 Request Timeout`` and is closed. Idle keep-alive connections are left to the keep-alive
timeout, and a body being uploaded is the handler's business.

aiohttp has no such limit: ``install`` makes an ``AppRunner``'s server build request handlers
that keep one timer each. It reads three attributes of aiohttp's ``RequestHandler`` (the number
of heads parsed, the queue of parsed messages and the future the handler waits on for the next
one); ``tests/admission/test_header_timeout.py`` fails if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class _Handler(RequestHandler):
    __slots__ = ("_head_deadline", "_head_timer")

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()  # the first head is due from the start

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads:
            self._disarm()  # a whole head arrived
        elif self._head_timer is None and self._awaiting_head():
            self._arm()  # the first bytes of the next head

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self._loop.call_later(self._head_deadline, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and self.transport is not None:
            self.transport.write(TIMEOUT_RESPONSE)
            self.force_close()
            self.transport.close()


class _Server(web.Server):
    head_timeout = 10.0

    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, head_timeout=self.head_timeout, **self._kwargs)


def install(runner: web.AppRunner, seconds: float) -> None:
    """Give the request handlers of ``runner`` (after ``setup()``) a head timeout."""
    server = runner.server
    assert server is not None, "call after runner.setup()"
    server.__class__ = _Server
    server.head_timeout = seconds  # type: ignore[attr-defined]
