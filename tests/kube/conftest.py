"""Fixtures for ``webhook.kube``: clients of the session's embedded cluster over real HTTPS,
fresh namespaces, and a fault-injecting HTTPS front."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube.front import Front
from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import KubeClient, SyncClient, connect, connect_sync
from webhook.kube.config import ClientOptions
from webhook.kube.limits import Backoff

_names = itertools.count()
FAST = Backoff(attempts=4, base=0.02, cap=0.2)


def new_namespace(cluster: RunningCluster, prefix: str = "kube") -> str:
    name = f"{prefix}{next(_names)}"
    cluster.call(cluster.api.create("namespaces", None, {"metadata": {"name": name}}))
    return name


@pytest.fixture
def ns(embedded_cluster: RunningCluster) -> str:
    return new_namespace(embedded_cluster)


@pytest.fixture
def options(embedded_cluster: RunningCluster, ns: str) -> ClientOptions:
    return ClientOptions(kubeconfig=str(embedded_cluster.kubeconfig), namespace=ns)


@pytest.fixture
async def client(options: ClientOptions) -> AsyncIterator[KubeClient]:
    async with connect(options, backoff=FAST) as c:
        yield c


@pytest.fixture
def sync_client(options: ClientOptions) -> Iterator[SyncClient]:
    c = connect_sync(options, backoff=FAST)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def front(embedded_cluster: RunningCluster) -> Iterator[Front]:
    f = Front(embedded_cluster).start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def front_kubeconfig(front: Front, tmp_path: Path, ns: str) -> Path:
    front.faults.clear()
    front.watches_blocked = False
    return front.write_kubeconfig(tmp_path / "front.kubeconfig", ns)


def configmap(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": dict(data)}


def deployment(ns: str, name: str = "web", image: str = "demo:v1", replicas: int = 2,
               labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    sel = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {}),
                     "annotations": dict(annotations or {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(sel)},
            "template": {
                "metadata": {"labels": dict(sel)},
                "spec": {"containers": [{"name": "app", "image": image,
                                         "ports": [{"containerPort": 8080}]}]},
            },
        },
    }
