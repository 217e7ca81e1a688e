"""SPDY/3.1 framing, the part the port-forward protocol uses (draft-mbelshe-httpbis-spdy-00
and the SPDY/3.1 changes): frames in and out of a byte stream, header blocks compressed with
zlib and the protocol's dictionary, one compression context per direction for the session.

Untrusted input is bounded: control frames over 64 KiB, header blocks that inflate past
64 KiB or hold more than 100 headers, and malformed frames raise ``SpdyError``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN = 0x01
MAX_CONTROL = 64 << 10
MAX_HEADERS = 100
MAX_DATA = (1 << 24) - 1
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM, RST_CANCEL = 1, 2, 3, 5

# The header compression dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00, 2.6.10.1):
# these names, each with its 4-byte big-endian length, then the common values as one string.
_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
)
_VALUES = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
    "504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad "
    "Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not "
    "Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec "
    "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,"
    "image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,public"
    "privatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + \
    _VALUES.encode()


class SpdyError(Exception):
    """The peer broke the protocol; the session ends."""


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: dict[str, str]
    fin: bool


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_stream_id: int


@dataclass(frozen=True)
class Other:
    frame_type: int


Frame = SynStream | Data | RstStream | Ping | GoAway | Other


class Codec:
    """One session's framing state: the input buffer and both zlib contexts."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    # --- in -----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, flags_len = struct.unpack(">II", self._buf[:8])
            length, flags = flags_len & 0xFFFFFF, flags_len >> 24
            control = bool(first & 0x80000000)
            if control and length > MAX_CONTROL:
                raise SpdyError(f"control frame of {length} bytes")
            if len(self._buf) < 8 + length:
                break
            body = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if not control:
                frames.append(Data(first & 0x7FFFFFFF, body, bool(flags & FLAG_FIN)))
                continue
            version, ftype = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise SpdyError(f"SPDY version {version}, not {VERSION}")
            frames.append(self._control(ftype, flags, body))
        return frames

    def _control(self, ftype: int, flags: int, body: bytes) -> Frame:
        try:
            if ftype == SYN_STREAM:
                stream_id = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
                return SynStream(stream_id, self._headers(body[10:]), bool(flags & FLAG_FIN))
            if ftype == RST_STREAM:
                sid, status = struct.unpack(">II", body[:8])
                return RstStream(sid & 0x7FFFFFFF, status)
            if ftype == PING:
                return Ping(struct.unpack(">I", body[:4])[0])
            if ftype == GOAWAY:
                return GoAway(struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF)
            if ftype in (SYN_REPLY, HEADERS):
                self._headers(body[4:])  # keep the compression context in step
        except struct.error as exc:
            raise SpdyError(f"short control frame of type {ftype}") from exc
        return Other(ftype)

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block, MAX_CONTROL)
        except zlib.error as exc:
            raise SpdyError(f"header block: {exc}") from exc
        if self._inflate.unconsumed_tail:
            raise SpdyError("header block larger than 64 KiB")
        try:
            (count,) = struct.unpack(">I", raw[:4])
            if count > MAX_HEADERS:
                raise SpdyError(f"{count} headers")
            out: dict[str, str] = {}
            pos = 4
            for _ in range(count):
                (n,) = struct.unpack(">I", raw[pos:pos + 4])
                name = raw[pos + 4:pos + 4 + n].decode("latin-1").lower()
                pos += 4 + n
                (n,) = struct.unpack(">I", raw[pos:pos + 4])
                out[name] = raw[pos + 4:pos + 4 + n].decode("latin-1")
                pos += 4 + n
        except struct.error as exc:
            raise SpdyError("truncated header block") from exc
        return out

    # --- out ----------------------------------------------------------------------------------

    def _header_block(self, headers: Mapping[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            name, value = k.lower().encode("latin-1"), v.encode("latin-1")
            raw += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control_frame(ftype: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(body)) + body

    def syn_reply(self, stream_id: int, headers: Mapping[str, str] | None = None,
                  fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._header_block(headers or {})
        return self._control_frame(SYN_REPLY, FLAG_FIN if fin else 0, body)

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        if len(payload) > MAX_DATA:
            raise ValueError("data frame too long")
        return struct.pack(">II", stream_id & 0x7FFFFFFF,
                           ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control_frame(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control_frame(GOAWAY, 0, struct.pack(">II", last_stream_id, status))

    def syn_stream(self, stream_id: int, headers: Mapping[str, str], fin: bool = False) -> bytes:
        """A client's SYN_STREAM (for tests that play kubectl's part)."""
        body = struct.pack(">IIH", stream_id, 0, 0) + self._header_block(headers)
        return self._control_frame(SYN_STREAM, FLAG_FIN if fin else 0, body)
