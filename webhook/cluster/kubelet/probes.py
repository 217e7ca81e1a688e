"""Readiness probes as the kubelet's prober worker runs them (pkg/kubelet/prober).

``ProbeSpec`` is a container's ``readinessProbe`` with the API defaults (period 10 s, timeout
1 s, success 1, failure 3). ``observe`` is the result cache: readiness starts as Failure, turns
ready after ``successThreshold`` consecutive successes and unready after ``failureThreshold``
consecutive failures. ``http_probe`` performs an ``httpGet`` against the pod's own server;
2xx and 3xx succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from webhook.errors import InvalidInput, Problem


@dataclass(frozen=True)
class ProbeSpec:
    kind: str  # httpGet | tcpSocket | exec | grpc
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    port: int | str | None = None
    path: str = "/"
    scheme: str = "HTTP"
    host: str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProbeState:
    ready: bool = False
    successes: int = 0
    failures: int = 0


def parse_probe(raw: Mapping[str, Any] | None, path: str) -> ProbeSpec | None:
    """A container probe, or ``None`` when the container has none."""
    if not raw:
        return None
    for kind in ("httpGet", "tcpSocket", "exec", "grpc"):
        if kind in raw:
            break
    else:
        raise InvalidInput([Problem(path, "must specify one of httpGet, tcpSocket, exec, grpc")])
    handler = raw.get(kind) or {}
    headers = tuple((str(h.get("name", "")), str(h.get("value", "")))
                    for h in handler.get("httpHeaders") or ())
    return ProbeSpec(
        kind=kind,
        initial_delay=float(raw.get("initialDelaySeconds") or 0),
        period=float(raw.get("periodSeconds") or 10),
        timeout=float(raw.get("timeoutSeconds") or 1),
        success_threshold=int(raw.get("successThreshold") or 1),
        failure_threshold=int(raw.get("failureThreshold") or 3),
        port=handler.get("port"),
        path=str(handler.get("path") or "/"),
        scheme=str(handler.get("scheme") or "HTTP"),
        host=str(handler.get("host") or ""),
        headers=headers,
    )


def observe(state: ProbeState, success: bool, spec: ProbeSpec) -> ProbeState:
    """One probe result folded into the cached readiness (thresholds as the worker applies)."""
    if success:
        s = state.successes + 1
        ready = state.ready or s >= spec.success_threshold
        return replace(state, ready=ready, successes=s, failures=0)
    f = state.failures + 1
    ready = state.ready and f < spec.failure_threshold
    return replace(state, ready=ready, successes=0, failures=f)


def resolve_port(port: int | str | None, container: Mapping[str, Any]) -> int | None:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or ():
            if p.get("name") == port:
                return int(p["containerPort"])
    return None


async def http_probe(host: str, port: int, spec: ProbeSpec) -> bool:
    """``httpGet``: a bare HTTP/1.1 GET; success is a status in [200, 400)."""
    try:
        return await asyncio.wait_for(_http_get(host, port, spec), spec.timeout)
    except (TimeoutError, OSError, ValueError):
        return False


async def _http_get(host: str, port: int, spec: ProbeSpec) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"GET {spec.path} HTTP/1.1", f"Host: {host}:{port}",
                 "User-Agent: kube-probe/1.32", "Accept: */*", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in spec.headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            return False
        return 200 <= int(parts[1]) < 400
    finally:
        writer.close()


async def tcp_probe(host: str, port: int, spec: ProbeSpec) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), spec.timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True
