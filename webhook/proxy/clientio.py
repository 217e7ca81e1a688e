"""The parts of a client connection apart from HTTP: its transport (batched writes, read
pauses, lingering close) and the pipelined requests waiting their turn."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from webhook.proxy.context import ProxyContext

if TYPE_CHECKING:
    from webhook.proxy.exchange import Exchange

LINGER_SECONDS = 5.0  # after a refusal, the longest wait for the client to stop sending


class ClientIO(asyncio.Protocol):
    """What ``ClientConn`` does with its transport, apart from HTTP."""

    __slots__ = (
        "batching",
        "ctx",
        "last_active",
        "linger_until",
        "out",
        "paused",
        "peer",
        "transport",
        "trusted",
    )

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.peer = b""
        self.trusted = False  # the peer is a trusted proxy (its X-Forwarded-* are kept)
        self.paused = 0
        self.last_active = 0.0
        self.batching = False
        self.out: list[bytes] = []
        # refused or closed: nothing more is read, and the connection is closed at this time at
        # the latest; 0: neither
        self.linger_until = 0.0

    def write(self, data: bytes) -> None:
        if self.batching:
            self.out.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    def flush(self) -> None:
        """End a batch: send what the batch wrote in one call."""
        self.batching = False
        out = self.out
        if out:
            self.out = []
            if self.transport is not None:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def close(self) -> None:
        if not self.linger_until:
            self.linger_until = self.ctx.loop.time()  # nothing more is read
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self, reason: int) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def resume_reading(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None:
            self.transport.resume_reading()

    def linger(self) -> None:
        """Shut the write side once the answer is out; keep reading (and dropping) what the
        client still sends until it closes or for ``LINGER_SECONDS`` (the housekeeper)."""
        self.linger_until = self.ctx.loop.time() + LINGER_SECONDS
        self.flush()
        transport = self.transport
        if transport is None:
            return
        if self.paused:
            self.paused = 0
            transport.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()

class Held:
    """A pipelined request parsed while an earlier one is still being answered: its exchange,
    and its body as it arrives, until its turn."""

    __slots__ = ("body", "complete", "exchange")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.body: list[bytes] = []
        self.complete = False
