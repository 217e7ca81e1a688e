"""The reconciler as a component of the embedded cluster (``canarist up``).

It talks to the embedded API server over HTTPS with the kubeconfig the cluster gives it (its
ServiceAccount's token, authorized by RBAC), exactly as ``canarist reconcile`` does against a
real cluster, watching every namespace; it reports ready once its caches are synced. The cluster
gives it the admin address of the ``canarist proxy`` it runs (``--proxy-admin-url``), for the
``builtin`` analysis provider, and the cluster policies of ``canarist up --policy FILE``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.policy import EMPTY, PolicySet
from webhook.release.loop import LoopOptions, Reconciler


async def run_reconciler(
    api: Any,
    stop: asyncio.Event,
    *,
    ready: asyncio.Event,
    kubeconfig: Path,
    proxy_admin_url: str | None = None,
    policies: PolicySet = EMPTY,
) -> None:
    """``async def run(api, stop_event, *, ready, kubeconfig, proxy_admin_url, policies)`` of
    ``webhook.cluster.runtime``; ``api`` (the in-process API) is not used."""
    del api
    options = LoopOptions(proxy_admin_url=proxy_admin_url, policies=policies)
    async with connect(ClientOptions(kubeconfig=str(kubeconfig))) as client:
        await Reconciler(client, options).run(stop, ready=ready)
