"""Hostile reviews for ``scripts/bench/webhook.py``: normal reviews' latency while they arrive.

Each hostile review differs from every other one (no cache helps) and is one of:
- ``slow-yaml``: ~60 KB of steps that only PyYAML's own parser reads (non-ASCII): about a
  second of CPU each, the longest legal parse;
- ``alias-bomb``: billion laughs (refused at once);
- ``deep-brackets``: 25 KB of ``[`` (1.7 s of event loop when it was parsed inline);
- ``large-body``: a 2.9 MB review with annotations never seen before.
They are made before the measurement and sent one after another on two keep-alive
connections, as fast as the webhook answers, while the measured normal load runs.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

KINDS = ("slow-yaml", "alias-bomb", "deep-brackets", "large-body")


def _laughs(i: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * 9)}]  # {i}"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


def hostile_body(base: dict[str, Any], kind: str, i: int) -> bytes:
    body = copy.deepcopy(base)
    body["request"]["uid"] = f"hostile-{i}"
    annotations = body["request"]["object"]["metadata"]["annotations"]
    if kind == "slow-yaml":
        annotations["canarist.io/steps"] = f"# é {i}\n" + "- pause: {duration: 1s}\n" * 2500
    elif kind == "alias-bomb":
        annotations["canarist.io/steps"] = _laughs(i)
    elif kind == "deep-brackets":
        annotations["canarist.io/steps"] = f"# {i}\n" + "[" * 25_000
    else:
        for k in range(10):
            annotations[f"canarist.io/x{k}"] = f"{i}-{k}-" + "y" * 290_000
    return json.dumps(body, separators=(",", ":")).encode()


def request_of(body: bytes, server_name: str) -> bytes:
    head = (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {server_name}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def hostile_requests(base: dict[str, Any], server_name: str, start: int,
                     count: int) -> list[tuple[str, bytes]]:
    """``count`` hostile requests, all different, made before the measurement (building a
    2.9 MB body takes the load generator's loop tens of milliseconds)."""
    return [(KINDS[(start + k) % len(KINDS)],
             request_of(hostile_body(base, KINDS[(start + k) % len(KINDS)],
                                     start * 1_000_000 + k), server_name))
            for k in range(count)]


async def send_hostile(
    call: Callable[[bytes], Awaitable[int]], requests: list[tuple[str, bytes]],
    stop: asyncio.Event, sent: dict[str, int],
) -> None:
    """Send ``requests`` through ``call`` (one connection), one after another, until ``stop``
    or until they are all sent."""
    for kind, request in requests:
        if stop.is_set():
            return
        status = await call(request)
        key = f"{kind}:{status}"
        sent[key] = sent.get(key, 0) + 1
