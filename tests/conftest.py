"""Fixtures shared by every test folder."""

from __future__ import annotations

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
