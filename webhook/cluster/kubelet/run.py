"""The kubelet's entry point for the runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from webhook.cluster.api import ClusterAPI
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.kubelet import Kubelet


async def run_kubelet(
    api: ClusterAPI,
    stop: asyncio.Event,
    *,
    clock: Callable[[], float] = time.time,
    pool: AddressPool | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the node until ``stop`` is set, then stop every pod's servers."""
    await Kubelet(api, clock=clock, pool=pool).run(stop, ready)
