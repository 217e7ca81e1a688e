"""A whole embedded cluster with canarist's admission webhook and the CRDs of every router, for
the release engine's end-to-end tests (one per session; every test uses its own namespace)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from webhook.cluster.runtime import RunningCluster, start_in_thread

from .e2e import install_crds


@pytest.fixture(scope="session")
def release_cluster() -> Iterator[RunningCluster]:
    cluster = start_in_thread(without=frozenset({"reconciler"}))  # the tests run their own
    try:
        asyncio.run(install_crds(cluster))
        yield cluster
    finally:
        cluster.stop()
