"""The demo app every container port serves: JSON naming the version and the pod.

Behaviour comes from the container's env, as a real image would read it:

- ``VERSION``: reported version (default: the image tag, ``latest`` without one);
- ``DEMO_ERROR_RATE`` (0-1): that share of requests answer 500, spread evenly (0.25 -> every
  4th request), never at random, so a test or an analysis sees exactly the configured rate;
- ``DEMO_LATENCY_MS``: added to every response;
- ``DEMO_READY_AFTER_S``: the app answers 503 until this long after it started (what a
  readinessProbe sees while a slow app boots).

Requests from the kubelet's prober (``User-Agent: kube-probe/...``) see the readiness delay but
neither injected errors nor latency, and are not counted: the app's health endpoint is healthy
while its business requests fail, which is what a canary analysis has to catch.

One ``aiohttp.web.Server`` (the low-level server, no router) per port keeps a pod cheap.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from webhook.errors import InvalidInput, Problem


@dataclass(frozen=True)
class DemoConfig:
    version: str
    error_rate: float = 0.0
    latency_ms: float = 0.0
    ready_after_s: float = 0.0


def image_tag(image: str) -> str:
    """The tag of an image reference (``latest`` when it has none; digests are kept)."""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in container.get("env") or ():
        if isinstance(item, Mapping) and "value" in item:
            out[str(item.get("name"))] = str(item.get("value"))
    return out


def _number(env: Mapping[str, str], name: str, path: str, *, low: float,
            high: float | None = None) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        allowed = f"a number from {low:g} to {high:g}" if high is not None else (
            f"a number >= {low:g}")
        raise InvalidInput([Problem(f"{path}.env[{name}]", f"must be {allowed}, got {raw!r}")])
    return value


def demo_config(container: Mapping[str, Any], path: str = "spec.containers[0]") -> DemoConfig:
    """The demo app's settings from a container spec; a bad value names the env var."""
    env = _env(container)
    return DemoConfig(
        version=env.get("VERSION") or image_tag(str(container.get("image") or "")),
        error_rate=_number(env, "DEMO_ERROR_RATE", path, low=0.0, high=1.0),
        latency_ms=_number(env, "DEMO_LATENCY_MS", path, low=0.0),
        ready_after_s=_number(env, "DEMO_READY_AFTER_S", path, low=0.0),
    )


def is_error(n: int, rate: float) -> bool:
    """Whether request ``n`` (1-based) fails: ``floor(n*rate)`` steps up exactly at errors,
    so any window of ``k`` requests holds ``floor(k*rate)`` or ``ceil(k*rate)`` errors."""
    return math.floor(n * rate + 1e-9) > math.floor((n - 1) * rate + 1e-9)


class DemoApp:
    """The request handler of one pod (shared by its ports)."""

    def __init__(self, config: DemoConfig, *, pod: str, namespace: str, ip: str,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self.pod = pod
        self.namespace = namespace
        self.ip = ip
        self.clock = clock
        self.started = clock()
        self.requests = 0

    def ready(self) -> bool:
        return self.clock() - self.started >= self.config.ready_after_s

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body: dict[str, Any] = {
            "version": self.config.version, "pod": self.pod, "namespace": self.namespace,
            "ip": self.ip, "method": request.method, "path": request.path,
        }
        if not self.ready():
            body["error"] = "starting"
            return _json(503, body)
        if request.headers.get("User-Agent", "").startswith("kube-probe/"):
            return _json(200, body)
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        self.requests += 1
        if is_error(self.requests, self.config.error_rate):
            body["error"] = "injected error (DEMO_ERROR_RATE)"
            return _json(500, body)
        return _json(200, body)


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(),
                        content_type="application/json")
