"""Options and the per-worker state every connection shares."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from webhook.proxy.balance import CANARY, STABLE
from webhook.proxy.limits import HeadLimits, is_trusted, parse_networks
from webhook.proxy.metrics import DEFAULT_WINDOW, Metrics
from webhook.proxy.mirror import Mirror
from webhook.proxy.plan import MAX_CACHED_HEAD
from webhook.proxy.table import LiveTable
from webhook.proxy.upstream import Pool

if TYPE_CHECKING:
    from webhook.proxy.client import ClientConn


@dataclass(frozen=True)
class ProxyOptions:
    version_header: bool = True  # add x-canarist-version: stable|canary to responses
    connect_timeout: float = 5.0  # upstream connect; past it: 504
    upstream_timeout: float = 60.0  # request sent -> response headers; past it: 504
    keepalive_timeout: float = 75.0  # idle client connections are closed after this
    drain_timeout: float = 30.0  # SIGTERM: longest wait for requests in flight
    mirror_timeout: float = 2.0
    mirror_queue: int = 1024
    mirror_senders: int = 16
    mirror_max_body: int = 1 << 20
    window_seconds: int = DEFAULT_WINDOW
    header_timeout: float = 20.0  # a request head must arrive whole within this; else closed
    max_uri_bytes: int = HeadLimits.uri_bytes  # request target; more: 414
    max_field_bytes: int = HeadLimits.field_bytes  # one header field; more: 431
    max_fields: int = HeadLimits.fields  # header fields per request; more: 431
    max_head_bytes: int = HeadLimits.head_bytes  # the whole head; more: 431
    # peers (addresses or CIDR blocks) whose X-Forwarded-For/-Host/-Proto are kept
    trusted_proxies: tuple[str, ...] = ()


class ProxyContext:
    """The live table, the upstream pool, metrics and mirroring of one worker."""

    def __init__(self, table: LiveTable, options: ProxyOptions,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.table = table
        self.options = options
        self.pool = Pool(self.loop, connect_timeout=options.connect_timeout)
        self.metrics = Metrics(options.window_seconds)
        self.mirror = Mirror(self.metrics, queue_size=options.mirror_queue,
                             senders=options.mirror_senders, timeout=options.mirror_timeout,
                             max_body=options.mirror_max_body)
        self.version_headers: dict[str, bytes] = (
            {v: b"x-canarist-version: " + v.encode() + b"\r\n" for v in (STABLE, CANARY)}
            if options.version_header else {STABLE: b"", CANARY: b""}
        )
        # loop time + offset = wall-clock time (the window's seconds), without a call per request
        self.clock_offset = time.time() - self.loop.time()
        self.limits = HeadLimits(options.max_uri_bytes, options.max_field_bytes,
                                 options.max_fields, options.max_head_bytes)
        self.trusted_networks = parse_networks(options.trusted_proxies)
        # the longest read that may start a planned head without the parser: one no longer
        # than any limit cannot break one (a new request line before a known block included)
        self.fast_max = min(MAX_CACHED_HEAD, options.max_uri_bytes, options.max_field_bytes,
                            options.max_head_bytes)
        # a head no longer than this breaks no limit: its target and each field are shorter
        # than it, and a field line takes at least 4 bytes ("a:" CRLF)
        self.small_head = min(options.max_uri_bytes, options.max_field_bytes - 2,
                              4 * options.max_fields)
        self.draining = False
        self.clients: set[ClientConn] = set()
        self.in_flight = 0
        self.idle_event = asyncio.Event()

    def trusts(self, peer: str) -> bool:
        """Whether a client at ``peer`` may pass its own forwarding headers on."""
        return is_trusted(peer, self.trusted_networks)

    def swap(self, table: LiveTable) -> None:
        """Install a new table; requests already routed keep the route they hold."""
        self.table = table
