"""Watch streams: newline-delimited JSON events, parsed without typed models.

A watch answer is a chunked body with one JSON object per line (k8s-semantics §3.8):
``{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}}``. ``LineSplitter`` cuts
the byte stream into lines whatever the chunking; ``parse_event`` turns one line into a
``WatchEvent`` (an ``ERROR`` event into the ``KubeError`` its Status maps to, e.g. ``Expired``
for 410); a line that is not an event raises ``Unavailable`` (the stream is broken: re-watch).

``WatchStream`` runs one watch request in its own thread (the blocking read must not hold an
API worker) and hands batches of events to the event loop through a small bounded queue, so a
slow consumer slows the reader instead of growing memory. ``close()`` shuts the socket down,
which ends the thread's read at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from webhook.errors import KubeError, Unavailable
from webhook.kube.statuses import error_for

EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})
MAX_LINE = 64 << 20  # one object larger than this is not a Kubernetes object


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        meta = self.object.get("metadata")
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        return rv if isinstance(rv, str) else ""


class LineSplitter:
    """Bytes in, complete lines out (without the newline); empty lines are dropped."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._max = max_line

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        if b"\n" not in chunk:
            if len(self._buf) > self._max:
                raise Unavailable(f"watch event longer than {self._max} bytes")
            return []
        *lines, rest = bytes(self._buf).split(b"\n")
        self._buf = bytearray(rest)
        return [line for line in lines if line.strip()]

    def tail(self) -> bytes:
        """What is left without a final newline (a last event some servers do not terminate)."""
        out, self._buf = bytes(self._buf), bytearray()
        return out if out.strip() else b""


def parse_event(line: bytes) -> WatchEvent:
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise Unavailable(f"malformed watch event: {_snippet(line)}") from exc
    if not isinstance(doc, dict):
        raise Unavailable(f"malformed watch event: {_snippet(line)}")
    etype, obj = doc.get("type"), doc.get("object")
    if etype == "ERROR":
        code = obj.get("code") if isinstance(obj, dict) else None
        raise error_for(
            code if isinstance(code, int) else 500,
            json.dumps(obj).encode(),
            asked="watch",
        )
    if etype not in EVENT_TYPES or not isinstance(obj, dict):
        raise Unavailable(f"malformed watch event: {_snippet(line)}")
    return WatchEvent(etype, obj)


def _snippet(line: bytes) -> str:
    return line[:120].decode("utf-8", "replace")


# What the reader thread hands over: a batch of events, or how the stream ended.
Item = list[WatchEvent] | BaseException | None


class WatchStream:
    """One watch request read in a thread; iterate it on the event loop.

    ``opener`` performs the request in the thread and returns the open response (anything with
    ``stream(n)`` yielding bytes and ``shutdown()``/``release_conn()``), raising the mapped
    error when the server refused. Iteration ends when the server ends the stream; errors
    (``Expired``, ``Unavailable``...) are raised from the iteration.
    """

    def __init__(self, opener: Callable[[], Any], *, name: str = "watch", depth: int = 16) -> None:
        self._opener = opener
        self._name = name
        self._queue: asyncio.Queue[Item] = asyncio.Queue(depth)
        self._loop = asyncio.get_running_loop()
        self._closed = threading.Event()
        self._resp: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name=f"canarist-{name}", daemon=True)
        self._thread.start()

    async def __aiter__(self) -> AsyncIterator[WatchEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            for event in item:
                yield event

    def close(self) -> None:
        """Stop reading (call on the event loop); an iteration in progress ends."""
        self._closed.set()
        with self._lock:
            resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- the reader thread ----------------------------------------------------------------------

    def _read(self) -> None:
        end: Item = None
        try:
            resp = self._opener()
            with self._lock:
                self._resp = resp
            if self._closed.is_set():
                return
            splitter = LineSplitter()
            for chunk in resp.stream(1 << 16, decode_content=True):
                batch = [parse_event(line) for line in splitter.feed(chunk)]
                if batch:
                    self._hand(batch)
            last = splitter.tail()
            if last:
                self._hand([parse_event(last)])
        except KubeError as exc:
            end = exc
        except Exception as exc:  # a socket shut down, a protocol error: the stream ended
            if not self._closed.is_set():
                end = Unavailable(f"{self._name}: stream broken: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                resp, self._resp = self._resp, None
            if resp is not None:
                with contextlib.suppress(Exception):
                    resp.release_conn()
            if not self._closed.is_set():
                self._hand(end)

    def _hand(self, item: Item) -> None:
        if self._closed.is_set() or self._loop.is_closed():
            return
        fut = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while not self._closed.is_set():
            try:
                fut.result(0.5)
                return
            except TimeoutError:
                continue
            except Exception:  # the loop went away
                return
        fut.cancel()
