"""The kubelet's entry point for the runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from webhook.cluster.api import ClusterAPI
from webhook.cluster.kubelet.addresses import AddressPool
from webhook.cluster.kubelet.config import NodeConfig
from webhook.cluster.kubelet.kubelet import Kubelet


async def run_kubelet(
    api: ClusterAPI,
    stop: asyncio.Event,
    *,
    clock: Callable[[], float] = time.time,
    pool: AddressPool | None = None,
    ready: asyncio.Event | None = None,
    node: NodeConfig | None = None,
) -> None:
    """Run the node until ``stop`` is set, then stop every pod (processes, namespaces)."""
    await Kubelet(api, clock=clock, pool=pool, config=node).run(stop, ready)
