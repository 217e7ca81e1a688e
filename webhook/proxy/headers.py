"""HTTP/1.1 header handling for the proxy: hop-by-hop removal, forwarding headers, framing.

Pure functions over raw ``(name, value)`` byte pairs as the parser delivers them. The proxy
re-frames bodies itself (it sees decoded chunks), so ``Transfer-Encoding`` and ``Content-Length``
are decided here, not copied blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Headers = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1, plus the non-standard ones every proxy strips.
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"trailers",
    b"transfer-encoding", b"upgrade", b"proxy-authenticate", b"proxy-authorization",
})
_REQUEST_DROP = HOP_BY_HOP | {b"content-length", b"expect", b"x-forwarded-for",
                              b"x-forwarded-proto", b"x-forwarded-host"}
_RESPONSE_DROP = HOP_BY_HOP | {b"content-length", b"x-canarist-version"}


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The lowercase option names listed in a ``Connection`` header."""
    return frozenset(t.strip().lower() for t in value.split(b",") if t.strip())


@dataclass(slots=True)
class RequestHead:
    """What the proxy needs from a request's headers, and the end-to-end ones to forward."""

    host: bytes = b""
    cookie: bytes | None = None
    forwarded_for: bytes = b""
    forwarded_proto: bytes = b""
    forwarded_host: bytes = b""
    upgrade: bytes | None = None
    content_length: int | None = None
    chunked: bool = False
    expect_continue: bool = False
    close: bool = False
    keep: Headers = field(default_factory=list)


def scan_request(headers: Headers) -> RequestHead:
    head = RequestHead()
    named: frozenset[bytes] = frozenset()
    entries: list[tuple[bytes, bytes, bytes]] = []
    for name, value in headers:
        lname = name.lower()
        if lname not in _REQUEST_DROP:
            if lname == b"host":
                head.host = value
            elif lname == b"cookie":
                head.cookie = value if head.cookie is None else head.cookie + b"; " + value
            entries.append((lname, name, value))
            continue
        if lname == b"connection":
            named = named | connection_tokens(value)
        elif lname == b"content-length":
            head.content_length = int(value) if value.strip().isdigit() else -1
        elif lname == b"transfer-encoding":
            head.chunked = b"chunked" in value.lower()
        elif lname == b"upgrade":
            head.upgrade = value
        elif lname == b"expect":
            head.expect_continue = value.strip().lower() == b"100-continue"
        elif lname == b"x-forwarded-for":
            head.forwarded_for = value if not head.forwarded_for else (
                head.forwarded_for + b", " + value)
        elif lname == b"x-forwarded-proto":
            head.forwarded_proto = value
        elif lname == b"x-forwarded-host":
            head.forwarded_host = value
    head.close = b"close" in named
    if head.upgrade is not None and b"upgrade" not in named:
        head.upgrade = None
    head.keep = [(n, v) for ln, n, v in entries if ln not in named]
    return head


def request_head(method: bytes, target: bytes, head: RequestHead, client_ip: bytes,
                 extra: bytes = b"") -> bytes:
    """The request line and headers sent upstream (always HTTP/1.1, keep-alive)."""
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in head.keep:
        parts += (name, b": ", value, b"\r\n")
    xff = head.forwarded_for + b", " + client_ip if head.forwarded_for else client_ip
    parts += (b"X-Forwarded-For: ", xff, b"\r\nX-Forwarded-Proto: ",
              head.forwarded_proto or b"http", b"\r\n")
    if head.forwarded_host or head.host:
        parts += (b"X-Forwarded-Host: ", head.forwarded_host or head.host, b"\r\n")
    if head.upgrade is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", head.upgrade, b"\r\n")
    if head.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif head.content_length is not None:
        parts += (b"Content-Length: ", str(head.content_length).encode(), b"\r\n")
    parts += (extra, b"\r\n")
    return b"".join(parts)


@dataclass(slots=True)
class ResponseHead:
    content_length: int | None = None
    chunked: bool = False
    upgrade: bytes | None = None
    keep: Headers = field(default_factory=list)


def scan_response(headers: Headers) -> ResponseHead:
    head = ResponseHead()
    named: frozenset[bytes] = frozenset()
    entries: list[tuple[bytes, bytes, bytes]] = []
    for name, value in headers:
        lname = name.lower()
        if lname not in _RESPONSE_DROP:
            entries.append((lname, name, value))
        elif lname == b"connection":
            named = named | connection_tokens(value)
        elif lname == b"content-length":
            head.content_length = int(value) if value.strip().isdigit() else None
        elif lname == b"transfer-encoding":
            head.chunked = b"chunked" in value.lower()
        elif lname == b"upgrade":
            head.upgrade = value
    head.keep = [(n, v) for ln, n, v in entries if ln not in named]
    return head


# How the proxy frames a response body towards the client.
FRAME_NONE = 0  # no body (HEAD, 1xx, 204, 304)
FRAME_LENGTH = 1  # Content-Length copied from upstream
FRAME_CHUNKED = 2  # re-chunked
FRAME_CLOSE = 3  # body ends when the connection closes (HTTP/1.0 clients)
FRAME_TUNNEL = 4  # 101 Switching Protocols: raw bytes both ways


def response_framing(status: int, head: ResponseHead, head_request: bool,
                     client_http11: bool) -> int:
    if status == 101:
        return FRAME_TUNNEL
    if head_request or status < 200 or status in (204, 304):
        return FRAME_NONE
    if head.content_length is not None and not head.chunked:
        return FRAME_LENGTH
    return FRAME_CHUNKED if client_http11 else FRAME_CLOSE


def response_head(status: int, reason: bytes, head: ResponseHead, framing: int,
                  extra: bytes, keep_alive: bool) -> bytes:
    """The status line and headers sent to the client."""
    parts = [b"HTTP/1.1 ", str(status).encode(), b" ", reason or b"-", b"\r\n"]
    for name, value in head.keep:
        parts += (name, b": ", value, b"\r\n")
    if framing == FRAME_TUNNEL:
        parts += (b"Connection: upgrade\r\nUpgrade: ", head.upgrade or b"websocket", b"\r\n")
    else:
        if framing == FRAME_LENGTH or (framing == FRAME_NONE and head.content_length is not None):
            parts += (b"Content-Length: ", str(head.content_length).encode(), b"\r\n")
        elif framing == FRAME_CHUNKED:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if not keep_alive or framing == FRAME_CLOSE:
            parts.append(b"Connection: close\r\n")
    parts += (extra, b"\r\n")
    return b"".join(parts)


def simple_response(status: int, reason: str, body: str, extra: bytes = b"",
                    keep_alive: bool = True) -> bytes:
    """A complete short text response the proxy itself produces (404, 502, 504...)."""
    data = body.encode("utf-8") + b"\n"
    conn = b"" if keep_alive else b"Connection: close\r\n"
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n").encode() + conn + extra + b"\r\n" + data


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
