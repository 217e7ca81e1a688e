"""``.../pods/NAME/portforward``: ``kubectl port-forward`` to a pod's own address.

The protocol is ``portforward.k8s.io`` over SPDY/3.1 (``spdy``): for each connection the
client opens an error stream and a data stream with the same ``requestID`` and ``port``
headers; the node connects to that port of the pod (declared or not) and copies bytes both
ways; a failure is written to the error stream. kubectl 1.32 carries the SPDY frames inside
WebSocket binary messages (subprotocol ``SPDY/3.1+portforward.k8s.io``); older clients
upgrade the HTTP connection to SPDY itself (``Upgrade: SPDY/3.1``). Both are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from webhook.cluster import status as st
from webhook.cluster.api import ClusterAPI
from webhook.cluster.http.paths import RequestInfo
from webhook.cluster.http.spdy import (
    RST_PROTOCOL_ERROR,
    Codec,
    Data,
    GoAway,
    Ping,
    RstStream,
    SpdyError,
    SynStream,
)

log = logging.getLogger(__name__)
PROTOCOL = "portforward.k8s.io"
TUNNEL = f"SPDY/3.1+{PROTOCOL}"
CHUNK = 32 << 10
CONNECT_TIMEOUT = 10.0

Send = Callable[[bytes], Awaitable[None]]


@dataclass
class _Pair:
    port: int
    error: int = 0
    data: int = 0
    conn: asyncio.StreamWriter | None = None
    pending: list[bytes] = field(default_factory=list)
    client_done: bool = False


class Session:
    """One port-forward connection: its SPDY streams, paired by request id."""

    def __init__(self, send: Send, ip: str, pod: str, uid: str) -> None:
        self._send_raw = send
        self.codec = Codec()
        self.ip, self.pod, self.uid = ip, pod, uid
        self._lock = asyncio.Lock()
        self._pairs: dict[str, _Pair] = {}
        self._streams: dict[int, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def send(self, build: Callable[[], bytes]) -> None:
        # frames are built under the lock: the header compression context is ordered
        async with self._lock:
            if not self.closed:
                await self._send_raw(build())

    async def feed(self, data: bytes) -> None:
        for frame in self.codec.feed(data):
            if isinstance(frame, SynStream):
                await self._open(frame)
            elif isinstance(frame, Data):
                await self._data(frame)
            elif isinstance(frame, RstStream):
                await self._reset(frame.stream_id)
            elif isinstance(frame, Ping):
                await self._send_ping(frame.ping_id)
            elif isinstance(frame, GoAway):
                await self.close()

    async def _open(self, frame: SynStream) -> None:
        kind = frame.headers.get("streamtype", "")
        request = frame.headers.get("requestid", frame.headers.get("port", ""))
        try:
            port = int(frame.headers.get("port", ""))
            if not 0 < port < 65536 or kind not in ("error", "data"):
                raise ValueError
        except ValueError:
            await self.send(lambda: self.codec.rst_stream(frame.stream_id, RST_PROTOCOL_ERROR))
            return
        pair = self._pairs.setdefault(request, _Pair(port))
        setattr(pair, kind, frame.stream_id)
        self._streams[frame.stream_id] = pair
        await self.send(lambda: self.codec.syn_reply(frame.stream_id))
        if pair.error and pair.data:
            task = asyncio.create_task(self._forward(pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _data(self, frame: Data) -> None:
        pair = self._streams.get(frame.stream_id)
        if pair is None or frame.stream_id != pair.data:
            return  # the client's error stream carries nothing
        if pair.conn is None:
            pair.pending.append(frame.data)
        elif frame.data:
            pair.conn.write(frame.data)
            with contextlib.suppress(ConnectionError):
                await pair.conn.drain()
        if frame.fin:
            pair.client_done = True
            if pair.conn is not None and pair.conn.can_write_eof():
                with contextlib.suppress(OSError):
                    pair.conn.write_eof()

    async def _reset(self, stream_id: int) -> None:
        pair = self._streams.pop(stream_id, None)
        if pair is not None and pair.conn is not None:
            pair.conn.close()

    async def _forward(self, pair: _Pair) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.ip, pair.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (
                "i/o timeout" if isinstance(exc, TimeoutError) else str(exc))
            message = (f"error forwarding port {pair.port} to pod {self.pod}, uid {self.uid}: "
                       f"dial tcp {self.ip}:{pair.port}: connect: {reason}")
            await self.send(lambda: self.codec.data(pair.error, message.encode(), fin=True))
            await self.send(lambda: self.codec.data(pair.data, b"", fin=True))
            return
        pair.conn = writer
        for chunk in pair.pending:
            writer.write(chunk)
        pair.pending.clear()
        if pair.client_done and writer.can_write_eof():
            writer.write_eof()
        try:
            while True:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                await self._send_data(pair.data, chunk)
        except OSError:
            pass
        finally:
            writer.close()
            await self.send(lambda: self.codec.data(pair.data, b"", fin=True))
            await self.send(lambda: self.codec.data(pair.error, b"", fin=True))

    async def _send_ping(self, ping_id: int) -> None:
        await self.send(lambda: self.codec.ping(ping_id))

    async def _send_data(self, stream_id: int, chunk: bytes) -> None:
        await self.send(lambda: self.codec.data(stream_id, chunk))

    async def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for pair in self._pairs.values():
            if pair.conn is not None:
                pair.conn.close()


async def _pod_address(api: ClusterAPI, info: RequestInfo) -> tuple[str, str]:
    pod = await api.get("pods", info.namespace, info.name)
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        raise st.bad_request(f"unable to forward port because pod is not running. Current "
                             f"status={status.get('phase', 'Pending')}")
    return str(status["podIP"]), str((pod.get("metadata") or {}).get("uid", ""))


async def serve_portforward(request: web.Request, api: ClusterAPI, info: RequestInfo
                            ) -> web.StreamResponse:
    ip, uid = await _pod_address(api, info)
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade == "websocket":
        return await _websocket(request, ip, info.name, uid)
    if upgrade.startswith("spdy/3.1"):
        return await _spdy(request, ip, info.name, uid)
    raise st.bad_request("Upgrade request required")


async def _websocket(request: web.Request, ip: str, pod: str, uid: str) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=(TUNNEL,), autoping=True, max_msg_size=1 << 24)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol != TUNNEL:
        raise st.bad_request(f"port-forward over WebSocket needs the {TUNNEL!r} subprotocol")
    await ws.prepare(request)
    session = Session(ws.send_bytes, ip, pod, uid)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await session.feed(msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    except SpdyError as exc:
        log.info("port-forward to %s ended: %s", pod, exc)
    finally:
        await session.close()
        await ws.close()
    return ws


class _SpdyParser:
    """Raw SPDY after the HTTP upgrade: bytes from aiohttp's protocol into the session."""

    def __init__(self, queue: asyncio.Queue[bytes | None]) -> None:
        self.queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def _spdy(request: web.Request, ip: str, pod: str, uid: str) -> web.StreamResponse:
    versions = [v.strip() for v in request.headers.get("X-Stream-Protocol-Version",
                                                        "").split(",")]
    if PROTOCOL not in versions:
        raise st.err(403, "Forbidden", f"port-forward needs X-Stream-Protocol-Version {PROTOCOL}")
    resp = web.StreamResponse(status=101, headers={
        "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": PROTOCOL})
    await resp.prepare(request)
    transport: Any = request.transport
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    request.protocol.set_parser(_SpdyParser(queue))  # type: ignore[arg-type]

    async def send(data: bytes) -> None:
        if transport is None or transport.is_closing():
            raise ConnectionError("the client went away")
        transport.write(data)

    session = Session(send, ip, pod, uid)
    try:
        while (chunk := await queue.get()) is not None:
            await session.feed(chunk)
    except (SpdyError, ConnectionError) as exc:
        log.info("port-forward to %s ended: %s", pod, exc)
    finally:
        await session.close()
        if transport is not None:
            transport.close()
    return resp
