"""Fixtures shared by every test folder.

Session-scoped clusters live here, once: a folder's conftest that imports a fixture from
another folder's defines it a second time, and pytest then starts a second cluster for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from webhook.cluster.runtime import RunningCluster, start_in_thread


@pytest.fixture(scope="session")
def embedded_cluster() -> Iterator[RunningCluster]:
    """A whole embedded cluster (API server, controllers, kubelet, garbage collector) on its
    own event loop in a background thread, for the session. ``.kubeconfig`` points kubectl and
    the official client at it; ``.call(api.get(...))`` reaches the in-process API. Namespaces
    are shared: create your own (``kubectl create ns``) rather than using ``default``."""
    cluster = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def release_cluster() -> Iterator[RunningCluster]:
    """A whole embedded cluster with canarist's admission webhook and the CRDs of every
    router, for end-to-end releases (``tests/release``, ``tests/convert``); no reconciler:
    each test runs its own. One per session; every test uses its own namespace."""
    from tests.release.e2e import install_crds

    cluster = start_in_thread(without=frozenset({"reconciler"}))
    try:
        asyncio.run(install_crds(cluster))
        yield cluster
    finally:
        cluster.stop()
