"""``canarist up``: the embedded cluster in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import sys
from pathlib import Path

from webhook.cluster.proxy_component import ProxySettings
from webhook.cluster.runtime import Cluster, check_components
from webhook.errors import ConfigError, Problem
from webhook.policy import EMPTY, PolicySet

DEFAULT_KUBECONFIG = Path.home() / ".canarist" / "kubeconfig"


def parse_without(values: list[str]) -> frozenset[str]:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return check_components(names)


def parse_images(values: list[str]) -> tuple[str, ...]:
    """``--image REPO`` (repeatable or comma-separated): repositories that run as canarist."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    bad = [n for n in names if any(c.isspace() for c in n) or n.startswith(("-", "/"))
           or len(n) > 255]
    if bad:
        raise ConfigError([Problem("--image", f"not an image repository: {b!r}") for b in bad])
    return tuple(names)


def run_up(
    kubeconfig: str | None,
    port: int,
    without: list[str],
    proxy: ProxySettings | None = None,
    images: list[str] | None = None,
    *,
    policies: PolicySet = EMPTY,
) -> int:
    if not 0 <= port <= 65535:
        raise ConfigError([Problem("--port", f"must be between 0 and 65535, got {port}")])
    cluster_kwargs = {
        "port": port,
        "kubeconfig": Path(kubeconfig) if kubeconfig else DEFAULT_KUBECONFIG,
        "without": parse_without(without),
        "proxy": proxy or ProxySettings(),
        "images": parse_images(images or []),
        "policies": policies,
    }
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the "fast" extra is optional
        asyncio.run(_serve(cluster_kwargs))
    else:
        uvloop.run(_serve(cluster_kwargs))
    return 0


async def _serve(kwargs: dict[str, object]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = Cluster(**kwargs)  # type: ignore[arg-type]
    try:
        await cluster.start()
    except OSError as exc:
        await cluster.stop()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError([Problem("--port", f"{kwargs['port']} is already in use")]) from exc
        raise
    components = ", ".join(cluster.started) or "none"
    proxy = cluster.proxy_process
    serving = ""
    if proxy is not None and proxy.port:
        serving = f"; proxy {proxy.address}, admin {proxy.admin_url}"
    print(f"canarist up: API server {cluster.url}, kubeconfig {cluster.kubeconfig} "
          f"(components: {components}){serving}", flush=True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await cluster.stop()
        print("canarist up: stopped", file=sys.stderr, flush=True)
