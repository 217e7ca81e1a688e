"""The reconciler as a component of the embedded cluster (``canarist up``).

It talks to the embedded API server over HTTPS with the kubeconfig the cluster writes, exactly as
``canarist reconcile`` does against a real cluster, watching every namespace; it reports ready
once its caches are synced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.release.loop import LoopOptions, Reconciler


async def run_reconciler(
    api: Any, stop: asyncio.Event, *, ready: asyncio.Event, kubeconfig: Path
) -> None:
    """``async def run(api, stop_event, *, ready, kubeconfig)`` of ``webhook.cluster.runtime``;
    ``api`` (the in-process API) is not used."""
    del api
    async with connect(ClientOptions(kubeconfig=str(kubeconfig))) as client:
        await Reconciler(client, LoopOptions()).run(stop, ready=ready)
