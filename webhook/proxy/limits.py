"""Limits on a client's request head, and which peers are trusted with forwarding headers.

Pure decisions, called by the client connection: ``head_refusal`` once a head is complete (or
when a read ends inside one), ``over_budget`` when a head outgrows its byte budget before it
ends. The defaults follow nginx's ``large_client_header_buffers 4 8k`` (a request line or a header
field of at most 8 KiB, a head of at most 4 x 8 KiB) and Envoy's and Apache's 100 header fields.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (status, reason, message) of an answer the proxy gives itself
Refusal = tuple[int, str, str]

URI_TOO_LONG = 414, "URI Too Long"
FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large"


@dataclass(frozen=True)
class HeadLimits:
    uri_bytes: int = 8192  # the request target; more: 414
    field_bytes: int = 8192  # one header field, name and value; more: 431
    fields: int = 100  # header fields; more: 431
    head_bytes: int = 32768  # the whole head, request line to the blank line; more: 431 (or 414)


def head_refusal(limits: HeadLimits, url: bytes, headers: list[tuple[bytes, bytes]],
                 start: int = 0) -> Refusal | None:
    """Why a head (complete, or as far as it went) breaks a limit; None when it does not.
    ``start``: the fields before it were checked already."""
    if len(url) > limits.uri_bytes:
        return (*URI_TOO_LONG, f"request target longer than {limits.uri_bytes} bytes")
    if len(headers) > limits.fields:
        return (*FIELDS_TOO_LARGE, f"more than {limits.fields} header fields")
    most = limits.field_bytes - 2
    for i in range(start, len(headers)):
        name, value = headers[i]
        if len(name) + len(value) > most:
            shown = name[:40].decode("latin-1")
            return (*FIELDS_TOO_LARGE, f"header field {shown!r} longer than "
                                       f"{limits.field_bytes} bytes")
    return None


def over_budget(limits: HeadLimits, url: bytes) -> Refusal:
    """The answer to a head that did not end within ``limits.head_bytes``."""
    if len(url) > limits.uri_bytes:
        return (*URI_TOO_LONG, f"request target longer than {limits.uri_bytes} bytes")
    return (*FIELDS_TOO_LARGE, f"request head larger than {limits.head_bytes} bytes")


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (``10.0.0.0/8``, ``fd00::/8``, ``192.0.2.7``); host bits set
    below the prefix are ignored, as nginx's ``set_real_ip_from`` does. ``ValueError`` names
    the first bad one."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an IP address or CIDR block") from exc
    return tuple(out)


def is_trusted(peer: str, networks: tuple[Network, ...]) -> bool:
    """Whether a connection's peer address is in one of ``networks`` (IPv4-mapped IPv6
    addresses count as their IPv4 address)."""
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(peer.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks)
