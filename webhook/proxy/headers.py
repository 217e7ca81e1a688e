"""HTTP/1.1 header handling for the proxy: hop-by-hop removal, forwarding headers, framing.

Pure functions over raw ``(name, value)`` byte pairs as the parser delivers them. The proxy
re-frames bodies itself (it sees decoded chunks), so ``Transfer-Encoding`` and ``Content-Length``
are decided here, not copied blindly.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

Headers = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1, plus the non-standard ones every proxy strips.
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"trailers",
    b"transfer-encoding", b"upgrade", b"proxy-authenticate", b"proxy-authorization",
})
_REQUEST_DROP = HOP_BY_HOP | {b"content-length", b"expect", b"x-forwarded-for",
                              b"x-forwarded-proto", b"x-forwarded-host"}
# Fields meant for every recipient (RFC 9110 §7.6.1: "a sender MUST NOT send a connection option
# corresponding to a field that is intended for all recipients"): a Connection header naming
# one of them does not remove it (so ``Connection: Host`` cannot strip the Host upstream).
END_TO_END = frozenset({
    b"host", b"content-length", b"content-type", b"content-encoding", b"content-language",
    b"content-location", b"content-range", b"cache-control", b"pragma", b"expires",
    b"authorization", b"www-authenticate", b"cookie", b"set-cookie", b"date", b"range",
    b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"if-range",
    b"etag", b"last-modified", b"location", b"vary", b"forwarded", b"x-forwarded-for",
    b"x-forwarded-host", b"x-forwarded-proto",
})
# what a Host header may hold: RFC 3986 reg-name, IP literal and port characters
_HOST_CHARS = bytes(sorted(set(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]")))


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The lowercase option names listed in a ``Connection`` header."""
    return frozenset(t.strip().lower() for t in value.split(b",") if t.strip())


def hop_by_hop_named(value: bytes) -> frozenset[bytes]:
    """The fields a ``Connection`` header removes: its options less the end-to-end fields."""
    return connection_tokens(value) - END_TO_END


class RequestHead:
    """What the proxy needs from a request's headers, and the end-to-end ones to forward.

    A plain class with its defaults on the class: built once per request, so only the fields a
    request actually has are written.
    """

    host = b""
    hosts = 0  # Host header lines
    problem: str | None = None  # why the request must be refused with 400
    cookie: bytes | None = None
    forwarded_for = b""
    forwarded_proto = b""
    forwarded_host = b""
    upgrade: bytes | None = None
    content_length: int | None = None
    chunked = False
    transfer_encoding = False  # any Transfer-Encoding line
    expect_continue = False
    close = False

    def __init__(self, keep: Headers) -> None:
        self.keep = keep


def scan_request(headers: Headers) -> RequestHead:
    keep: Headers = []
    head = RequestHead(keep)
    named: frozenset[bytes] | None = None
    lnames: list[bytes] = []
    for name, value in headers:
        lname = name.lower()
        if lname not in _REQUEST_DROP:
            if lname == b"host":
                head.hosts += 1
                if head.hosts > 1:
                    head.problem = "more than one Host header"
                elif value.translate(None, _HOST_CHARS):
                    head.problem = f"invalid Host header {value[:60].decode('latin-1')!r}"
                head.host = value
            elif lname == b"cookie":
                head.cookie = value if head.cookie is None else head.cookie + b"; " + value
            keep.append((name, value))
            lnames.append(lname)
            continue
        if lname == b"connection":
            tokens = hop_by_hop_named(value)
            named = tokens if named is None else named | tokens
        elif lname == b"content-length":
            head.content_length = int(value) if value.strip().isdigit() else -1
        elif lname == b"transfer-encoding":
            head.transfer_encoding = True
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
    if named is not None:
        head.close = b"close" in named
        if named - _PLAIN_TOKENS:
            head.keep = [kv for kv, ln in zip(keep, lnames, strict=True) if ln not in named]
    if head.upgrade is not None and (named is None or b"upgrade" not in named):
        head.upgrade = None
    return head


_FRAMED = -1


def request_head(method: bytes, target: bytes, head: RequestHead, client_ip: bytes,
                 extra: bytes = b"", http11: bool = True, length: int | None = _FRAMED,
                 trusted: bool = False) -> bytes:
    """The request line and headers sent upstream.

    HTTP/1.1 with keep-alive; an HTTP/1.0 client's request goes up as HTTP/1.0 so that the answer
    cannot be chunked (which such a client could not read). ``length`` replaces the request's
    own framing with a Content-Length (None: no body), for copies of buffered bodies.
    ``trusted``: the client is a trusted proxy, whose forwarding headers are kept.
    """
    pre, post = upstream_head_parts(method, target, head, http11, extra, length, trusted)
    return pre + client_ip + post


def upstream_head_parts(method: bytes, target: bytes, head: RequestHead, http11: bool = True,
                        extra: bytes = b"", length: int | None = _FRAMED,
                        trusted: bool = False) -> tuple[bytes, bytes]:
    """``request_head`` cut around the client's address, which is the only part that depends on
    the connection: ``pre + client_ip + post`` is the head sent upstream."""
    pre, post = upstream_header_parts(head, extra, length, trusted)
    line = b" HTTP/1.1\r\n" if http11 else b" HTTP/1.0\r\n"
    return b"".join((method, b" ", target, line, pre)), post


def upstream_header_parts(head: RequestHead, extra: bytes = b"",
                          length: int | None = _FRAMED, trusted: bool = False
                          ) -> tuple[bytes, bytes]:
    """``upstream_head_parts`` without the request line: what the header lines imply.

    The proxy sets ``X-Forwarded-For`` (the client's address), ``X-Forwarded-Proto`` (``http``)
    and ``X-Forwarded-Host`` (the Host), replacing what the client sent; a ``trusted`` client's
    values are kept, its ``X-Forwarded-For`` appended to (nginx's ``proxy_add_x_forwarded_for``).
    """
    parts: list[bytes] = []
    for name, value in head.keep:
        parts += (name, b": ", value, b"\r\n")
    forwarded_for = head.forwarded_for if trusted else b""
    parts.append(b"X-Forwarded-For: " + forwarded_for + b", " if forwarded_for
                 else b"X-Forwarded-For: ")
    pre = b"".join(parts)
    proto = head.forwarded_proto if trusted else b""
    parts = [b"\r\nX-Forwarded-Proto: ", proto or b"http", b"\r\n"]
    forwarded_host = (head.forwarded_host if trusted else b"") or head.host
    if forwarded_host:
        parts += (b"X-Forwarded-Host: ", forwarded_host, b"\r\n")
    if head.upgrade is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", head.upgrade, b"\r\n")
    if length != _FRAMED:
        if length is not None:
            parts += (b"Content-Length: ", str(length).encode(), b"\r\n")
    elif head.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif head.content_length is not None:
        parts += (b"Content-Length: ", str(head.content_length).encode(), b"\r\n")
    parts += (extra, b"\r\n")
    return pre, b"".join(parts)


# Response heads are rewritten as raw bytes: the upstream's header block is copied minus the
# hop-by-hop lines, so the hot path never splits a response into header objects. One regular
# expression pass over the lowercased block finds both the framing headers and the lines to drop.
_SPECIAL = re.compile(
    rb"\r\n(connection|keep-alive|proxy-connection|te|trailers?|upgrade|proxy-authenticate"
    rb"|proxy-authorization|x-canarist-version|content-length|transfer-encoding)[ \t]*:"
    rb"[ \t]*([^\r\n]*)")
_KEEP_LINE = frozenset({b"content-length", b"transfer-encoding"})
_PLAIN_TOKENS = frozenset({b"keep-alive", b"close", b"upgrade"})


@dataclass(slots=True)
class ResponseHead:
    """An upstream response head: its framing, and its block without hop-by-hop lines.

    ``simple`` marks the common answer a single read often holds whole: a final status with a
    body of ``Content-Length`` bytes on a connection the upstream keeps open. ``outs`` caches the
    heads sent to clients, by the extra lines and keep-alive.
    """

    block: bytes = b"HTTP/1.1 200 OK\r\n"  # status line and kept headers, each ending CRLF
    content_length: int | None = None
    chunked: bool = False
    upgrade: bytes | None = None
    status: int = 0
    simple: bool = False
    outs: dict[tuple[bytes, bool], bytes] = field(default_factory=dict)


def scan_response(block: bytes) -> ResponseHead:
    """Read the raw head (status line to the CRLF of the last header, no blank line)."""
    head = ResponseHead()
    low = block.lower()
    line_end = block.find(b"\r\n")
    drops: list[tuple[int, int]] = []
    named: frozenset[bytes] = frozenset()
    for m in _SPECIAL.finditer(low, line_end):
        name, value = m.group(1), m.group(2)
        if name == b"content-length":
            value = value.strip()
            head.content_length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            head.chunked = b"chunked" in value
        elif name == b"upgrade":
            head.upgrade = block[m.start(2):m.end(2)].strip()
        elif name == b"connection":
            value = value.strip()
            named = named | (frozenset((value,)) if value in _PLAIN_TOKENS
                             else connection_tokens(value))
        if name not in _KEEP_LINE:
            drops.append((m.start(), m.end()))
    status_at = block.find(b" ", 0, line_end)
    status_text = block[status_at + 1:status_at + 4]
    head.status = int(status_text) if status_text.isdigit() else 0
    upstream_keeps = b"close" not in named and (
        block.startswith(b"HTTP/1.1") or b"keep-alive" in named)
    head.simple = (upstream_keeps and head.status >= 200 and head.status not in (204, 304)
                   and not head.chunked and head.content_length is not None)
    extra_named = named - _PLAIN_TOKENS - END_TO_END
    if extra_named:
        names = b"|".join(re.escape(n) for n in sorted(extra_named))
        pattern = re.compile(rb"\r\n(?:" + names + rb")[ \t]*:[^\r\n]*")
        drops = sorted([*drops, *((m.start(), m.end()) for m in pattern.finditer(low, line_end))])
    if not drops:
        head.block = b"HTTP/1.1" + block[status_at:]
        return head
    parts = [b"HTTP/1.1", block[status_at:drops[0][0]]]
    for (_, end), (start, _) in itertools.pairwise(drops):
        parts.append(block[end:start])
    parts.append(block[drops[-1][1]:])
    head.block = b"".join(parts)
    return head


RESPONSE_HEADS: dict[bytes, ResponseHead] = {}
MAX_CACHED_HEADS = 512


def scan_response_cached(block: bytes) -> ResponseHead:
    """``scan_response`` memoised: an upstream repeats the same head (Date included) for every
    answer within a second, so most responses skip the scan. The result is never mutated."""
    head = RESPONSE_HEADS.get(block)
    if head is None:
        head = scan_response(block)
        if len(RESPONSE_HEADS) >= MAX_CACHED_HEADS:
            RESPONSE_HEADS.clear()
        RESPONSE_HEADS[block] = head
    return head


def response_head(block_headers: list[tuple[bytes, bytes]], status: int = 200,
                  reason: bytes = b"OK") -> bytes:
    """A raw head as an upstream would send it (for tests and tools)."""
    lines = [b"HTTP/1.1 %d %s" % (status, reason)]
    lines += [n + b": " + v for n, v in block_headers]
    return b"\r\n".join(lines) + b"\r\n"


# How the proxy frames a response body towards the client.
FRAME_NONE = 0  # no body (HEAD, 1xx, 204, 304)
FRAME_LENGTH = 1  # Content-Length: the body is copied as it comes
FRAME_CHUNKED = 2  # the upstream chunked it: the chunks are copied as they come
FRAME_RECHUNK = 3  # the upstream ends the body by closing: the proxy chunks it (HTTP/1.1 clients)
FRAME_CLOSE = 4  # the body ends when the connection closes (HTTP/1.0 clients)
FRAME_TUNNEL = 5  # 101 Switching Protocols: raw bytes both ways


def response_framing(status: int, head: ResponseHead, head_request: bool,
                     client_http11: bool) -> int:
    if status == 101:
        return FRAME_TUNNEL
    if head_request or status < 200 or status in (204, 304):
        return FRAME_NONE
    if head.chunked:
        return FRAME_CHUNKED
    if head.content_length is not None:
        return FRAME_LENGTH
    return FRAME_RECHUNK if client_http11 else FRAME_CLOSE


def client_head_cached(head: ResponseHead, extra: bytes, keep_alive: bool) -> bytes:
    """``client_head`` of a ``simple`` head (Content-Length framing), memoised on the head."""
    key = (extra, keep_alive)
    out = head.outs.get(key)
    if out is None:
        out = head.outs[key] = client_head(head, FRAME_LENGTH, extra, keep_alive)
    return out


def client_head(head: ResponseHead, framing: int, extra: bytes, keep_alive: bool) -> bytes:
    """The head sent to the client: the kept block, framing and connection lines, ``extra``."""
    if framing == FRAME_TUNNEL:
        tail = b"Connection: upgrade\r\nUpgrade: " + (head.upgrade or b"websocket") + b"\r\n"
    elif framing == FRAME_RECHUNK:
        tail = b"Transfer-Encoding: chunked\r\n"
    else:
        tail = b""
    if framing != FRAME_TUNNEL and (not keep_alive or framing == FRAME_CLOSE):
        tail += b"Connection: close\r\n"
    return head.block + tail + extra + b"\r\n"


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
