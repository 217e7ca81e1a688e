"""Fixtures for the embedded cluster's API tests: a cluster without the workload controllers
(so objects stay as the API left them), kubectl and the official client pointed at it."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from webhook.cluster.runtime import RunningCluster, start_in_thread

_names = itertools.count()


@pytest.fixture(scope="module")
def api_cluster() -> Iterator[RunningCluster]:
    """API server + garbage collector only (no controllers, kubelet, webhook or reconciler)."""
    cluster = start_in_thread(without=frozenset({"controllers", "kubelet", "webhook",
                                                 "reconciler"}),
                              bookmark_interval=0.3)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def api_client(api_cluster: RunningCluster) -> Iterator[k8s.ApiClient]:
    client = k8s_config.new_client_from_config(config_file=str(api_cluster.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ns(api_cluster: RunningCluster) -> str:
    """A fresh namespace for one test."""
    name = f"t{next(_names)}"
    api_cluster.call(api_cluster.api.create("namespaces", None, {"metadata": {"name": name}}))
    return name


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True, text=True, input=stdin, timeout=60, check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def deployment(name: str = "web", image: str = "demo:v1", replicas: int = 2,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    sel = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
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


def raw(cluster: RunningCluster, method: str, path: str, body: Any = None,
        headers: dict[str, str] | None = None, token: str | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request with the cluster's token; returns (status, headers, body)."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cadata=cluster.cluster.creds.ca.cert_pem.decode())
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    req = urllib.request.Request(f"{cluster.url}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {token or cluster.cluster.creds.token}",
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
