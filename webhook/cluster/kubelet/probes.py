"""Readiness, liveness and startup probes as the kubelet's prober runs them (pkg/kubelet/prober).

``ProbeSpec`` is a container probe with the API defaults (period 10 s, timeout 1 s, success 1,
failure 3). ``observe`` folds one result into the worker's state: a result changes only after
``successThreshold`` (or ``failureThreshold``) equal results in a row. Readiness starts as
Failure, liveness as Success, startup as Unknown (``failed`` says when it gave up).
Handlers: ``httpGet`` (HTTP or HTTPS without certificate checks, ``httpHeaders`` sent,
a status in [200, 400) succeeds), ``tcpSocket`` (a connection succeeds), ``exec`` (run by the
caller; exit 0 succeeds). The messages of failures are upstream's, for ``Unhealthy`` events.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from webhook.errors import InvalidInput, Problem

USER_AGENT = "kube-probe/1.32"
MAX_BODY = 10 << 10


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
    command: tuple[str, ...] = ()
    termination_grace: float | None = None


@dataclass(frozen=True)
class ProbeState:
    ready: bool = False  # the current result: Success (True) or Failure/Unknown (False)
    successes: int = 0
    failures: int = 0


def initial_state(probe_type: str) -> ProbeState:
    """Readiness and startup start failing/unknown, liveness succeeding."""
    return ProbeState(ready=probe_type == "liveness")


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
    grace = raw.get("terminationGracePeriodSeconds")
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
        command=tuple(str(c) for c in handler.get("command") or ()),
        termination_grace=float(grace) if isinstance(grace, int) else None,
    )


def observe(state: ProbeState, success: bool, spec: ProbeSpec) -> ProbeState:
    """One probe result folded into the cached result (thresholds as the worker applies)."""
    if success:
        s = state.successes + 1
        ready = state.ready or s >= spec.success_threshold
        return replace(state, ready=ready, successes=s, failures=0)
    f = state.failures + 1
    ready = state.ready and f < spec.failure_threshold
    return replace(state, ready=ready, successes=0, failures=f)


def failed(state: ProbeState, spec: ProbeSpec) -> bool:
    """Liveness or startup gave up: the container is to be killed."""
    return state.failures >= spec.failure_threshold


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


def _dial_error(host: str, port: int, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"dial tcp {host}:{port}: connect: {text.lower()}"


async def http_check(host: str, port: int, spec: ProbeSpec) -> tuple[bool, str]:
    """``httpGet``: success is a status in [200, 400); the message says why not."""
    scheme = spec.scheme.lower()
    url = f"{scheme}://{host}:{port}{spec.path}"
    try:
        code = await asyncio.wait_for(_http_get(host, port, spec), spec.timeout)
    except TimeoutError:
        return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded '
                       'while awaiting headers)')
    except (OSError, ValueError, ssl.SSLError) as exc:
        return False, f'Get "{url}": {_dial_error(host, port, exc)}'
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def http_probe(host: str, port: int, spec: ProbeSpec) -> bool:
    return (await http_check(host, port, spec))[0]


async def _http_get(host: str, port: int, spec: ProbeSpec) -> int:
    ctx: ssl.SSLContext | None = None
    if spec.scheme.upper() == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    try:
        names = {k.lower() for k, _ in spec.headers}
        lines = [f"GET {spec.path} HTTP/1.1"]
        if "host" not in names:
            lines.append(f"Host: {host}:{port}")
        if "user-agent" not in names:
            lines.append(f"User-Agent: {USER_AGENT}")
        if "accept" not in names:
            lines.append("Accept: */*")
        lines += [f"{k}: {v}" for k, v in spec.headers]
        lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise ValueError("malformed HTTP response")
        return int(parts[1])
    finally:
        writer.close()


async def tcp_check(host: str, port: int, spec: ProbeSpec) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), spec.timeout)
    except (TimeoutError, OSError) as exc:
        return False, _dial_error(host, port, exc)
    writer.close()
    return True, ""


async def tcp_probe(host: str, port: int, spec: ProbeSpec) -> bool:
    return (await tcp_check(host, port, spec))[0]
