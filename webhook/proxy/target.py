"""The request line's decisions: which HTTP versions are served, and what an absolute-form
request target means (RFC 9112 §2.3, §3.2.2). Pure functions over the parser's results."""

from __future__ import annotations

import re

from webhook.proxy.limits import Refusal

# scheme "://" authority, then path, query (and anything else) as the parser accepted them; no
# nested repetition, so matching is linear in the target's length
_ABSOLUTE = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)", re.DOTALL)
# RFC 3986 host (an IPv6 literal, or a reg-name / IPv4 address) and an optional port
_AUTHORITY = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]{0,5}))?")
SCHEMES = (b"http", b"https")


def version_refusal(version: str) -> Refusal | None:
    """Why a request of HTTP version ``version`` (as httptools reports it) is not served.

    HTTP/1.0 and HTTP/1.1 are. A request line without a version (HTTP/0.9, which llhttp
    accepts) or with ``HTTP/0.9`` gets 400: its answer could not carry a status or headers, and
    upstreams speak HTTP/1.x; ``HTTP/2.0`` and later in HTTP/1 syntax get 505, as from nginx.
    """
    if version in ("1.1", "1.0"):
        return None
    if version.startswith("0."):
        return (400, "Bad Request", "HTTP/0.9 request (a request line without an HTTP/1.x "
                                    "version) not supported")
    return (505, "HTTP Version Not Supported",
            f"HTTP/{version[:8]} not supported: HTTP/1.0 and HTTP/1.1 only")


def absolute_target(url: bytes) -> tuple[bytes, bytes] | str:
    """The authority and origin-form target of an absolute-form target
    (``http://other.example:8080/path?q`` -> ``other.example:8080``, ``/path?q``); or why it
    is refused: a scheme other than http and https, userinfo (RFC 9110 §4.2.4), an empty or
    malformed host, a port past 65535."""
    shown = url[:80].decode("latin-1")
    found = _ABSOLUTE.fullmatch(url)
    if found is None:
        return f"invalid request target {shown!r}"
    scheme, authority, rest = found.groups()
    if scheme.lower() not in SCHEMES:
        return (f"request target {shown!r} has scheme {scheme[:20].decode('latin-1')!r}: "
                "only http and https")
    if b"@" in authority:
        return f"request target {shown!r} has userinfo (RFC 9110 §4.2.4)"
    host = _AUTHORITY.fullmatch(authority)
    if host is None or (host[2] and int(host[2]) > 65535):
        return f"request target {shown!r} has an invalid authority"
    return authority, rest if rest.startswith(b"/") else b"/" + rest
