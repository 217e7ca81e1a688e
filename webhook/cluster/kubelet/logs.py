"""Container output kept as the kubelet keeps it for ``kubectl logs``: per container, the
current instance and the previous one (``--previous``), each bounded in size (the oldest lines
go first), with the time each line was written (``--timestamps``, ``--since``).

Lines longer than 16 KiB are split, as the CRI log format splits them; a line without its
newline when the process exits is kept as written.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_BYTES = 2 << 20  # per container instance
MAX_LINE = 16 << 10


@dataclass(frozen=True)
class LogLine:
    time: float
    stream: str  # stdout | stderr
    data: bytes  # the line, newline included when it had one


def timestamp(epoch: float) -> str:
    """RFC 3339 with nanoseconds, fixed width, UTC (the kubelet's log timestamp format)."""
    whole = int(epoch)
    nanos = round((epoch - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


@dataclass
class InstanceLog:
    """One instance of a container: its lines so far, and whether it ended."""

    limit: int = MAX_BYTES
    lines: deque[LogLine] = field(default_factory=deque)
    size: int = 0
    pushed: int = 0  # lines ever pushed: the sequence number of the next one
    closed: bool = False
    _partial: dict[str, bytes] = field(default_factory=dict)
    _changed: asyncio.Event | None = None

    def _push(self, line: LogLine) -> None:
        self.lines.append(line)
        self.pushed += 1
        self.size += len(line.data)
        while self.size > self.limit and self.lines:
            self.size -= len(self.lines.popleft().data)
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def write(self, stream: str, data: bytes, now: float) -> None:
        buf = self._partial.pop(stream, b"") + data
        while buf:
            cut = buf.find(b"\n")
            if cut < 0:
                if len(buf) < MAX_LINE:
                    self._partial[stream] = buf
                    return
                cut = MAX_LINE - 1
            elif cut >= MAX_LINE:
                cut = MAX_LINE - 1
            self._push(LogLine(now, stream, buf[:cut + 1]))
            buf = buf[cut + 1:]

    def close(self, now: float) -> None:
        for stream, rest in sorted(self._partial.items()):
            self._push(LogLine(now, stream, rest))
        self._partial.clear()
        self.closed = True
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def select(self, since: float | None = None, tail: int | None = None) -> list[LogLine]:
        lines = [ln for ln in self.lines if since is None or ln.time >= since]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        return lines

    async def follow(self, since: float | None = None, tail: int | None = None
                     ) -> AsyncIterator[LogLine]:
        """The selected lines, then every new one until the instance ends."""
        for line in self.select(since, tail):
            yield line
        next_seq = self.pushed
        while True:
            first = self.pushed - len(self.lines)
            fresh = list(self.lines)[max(0, next_seq - first):]
            next_seq = self.pushed
            for line in fresh:
                yield line
            if self.closed and next_seq == self.pushed:
                return
            if next_seq == self.pushed:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()


@dataclass
class ContainerLogs:
    """A container's current and previous instances."""

    current: InstanceLog = field(default_factory=InstanceLog)
    previous: InstanceLog | None = None
    instances: int = 0

    def new_instance(self, now: float) -> InstanceLog:
        if self.instances:
            if not self.current.closed:
                self.current.close(now)
            self.previous = self.current
            self.current = InstanceLog()
        self.instances += 1
        return self.current


def render(line: LogLine, timestamps: bool) -> bytes:
    return (timestamp(line.time).encode() + b" " + line.data) if timestamps else line.data
