"""Retries, backoff and the client-side rate limit, through a real HTTPS front that injects
429/5xx answers, slow answers and refused connections."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.kube.conftest import FAST, configmap
from tests.kube.front import Front
from webhook.errors import Conflict, KubeError, NotFound, Unavailable
from webhook.kube.client import connect, connect_sync
from webhook.kube.config import ClientOptions
from webhook.kube.limits import Backoff
from webhook.kube.protocol import ObjectRef


def opts(path: Path, **kw: object) -> ClientOptions:
    return ClientOptions(kubeconfig=str(path), **kw)  # type: ignore[arg-type]


def test_503_then_success_is_retried(front: Front, front_kubeconfig: Path, ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig), backoff=FAST)
    try:
        c.create(configmap(ns, "r1"))
        front.fail(503, 2, method="GET", path_contains="/configmaps/r1")
        got = c.get(ObjectRef("v1", "ConfigMap", ns, "r1"))
        assert got is not None and got["metadata"]["name"] == "r1"
        assert c.rest.stats[("GET", 503)] == 2
        statuses = [s.status for s in front.requests("GET", "/configmaps/r1")]
        assert statuses == [503, 503, 200]
    finally:
        c.close()


def test_429_honours_retry_after(front: Front, front_kubeconfig: Path, ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig), backoff=FAST)
    try:
        front.fail(429, 1, method="GET", path_contains="/configmaps", retry_after=0.4)
        c.list("v1", "ConfigMap", ns)
        seen = front.requests("GET", f"/namespaces/{ns}/configmaps")
        assert [s.status for s in seen] == [429, 200]
        assert seen[1].at - seen[0].at >= 0.38  # FAST alone would wait at most 0.02 s
    finally:
        c.close()


def test_retries_are_bounded(front: Front, front_kubeconfig: Path, ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig), backoff=FAST)
    try:
        front.fail(503, 100, method="GET", path_contains="/configmaps/never")
        started = time.monotonic()
        with pytest.raises(Unavailable) as err:
            c.get(ObjectRef("v1", "ConfigMap", ns, "never"))
        assert err.value.status == 503 and str(err.value) == "injected 503"
        assert len(front.requests("GET", "/configmaps/never")) == FAST.attempts
        assert time.monotonic() - started < FAST.total_bound() + 2
    finally:
        front.faults.clear()
        c.close()


def test_writes_are_retried_and_a_lost_create_shows_as_conflict(
        front: Front, front_kubeconfig: Path, ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig), backoff=FAST)
    try:
        front.fail(500, 1, method="POST", path_contains="/configmaps")
        created = c.create(configmap(ns, "w1"))
        assert created["metadata"]["name"] == "w1"
        assert [s.status for s in front.requests("POST", f"/namespaces/{ns}/configmaps")] == [
            500, 201]
        with pytest.raises(Conflict):  # what a retried create whose answer was lost sees
            c.create(configmap(ns, "w1"))
    finally:
        c.close()


def test_a_non_status_body_still_maps_by_code(front: Front, front_kubeconfig: Path,
                                              ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig), backoff=Backoff(attempts=1))
    try:
        front.fail(502, 1, body=b"<html>bad gateway</html>")
        with pytest.raises(Unavailable, match=r"HTTP 502 from the API server for GET "
                                              r"/api/v1/namespaces/.*: <html>bad gateway"):
            c.get(ObjectRef("v1", "ConfigMap", ns, "x"))
        front.fail(404, 1, body=b"")
        with pytest.raises(NotFound, match="HTTP 404"):
            c.patch(ObjectRef("v1", "ConfigMap", ns, "x"), {"data": {}})
    finally:
        c.close()


def test_a_slow_answer_times_out_and_is_retried(front: Front, front_kubeconfig: Path,
                                                ns: str) -> None:
    c = connect_sync(opts(front_kubeconfig, timeout=0.5), backoff=FAST)
    try:
        c.create(configmap(ns, "slow"))
        front.slow(2.0, 1, method="GET", path_contains="/configmaps/slow")
        started = time.monotonic()
        assert c.get(ObjectRef("v1", "ConfigMap", ns, "slow")) is not None
        assert 0.45 < time.monotonic() - started < 1.9
        assert c.rest.stats[("GET", 0)] == 1  # the timed-out attempt
    finally:
        c.close()


def test_connection_refused_is_unavailable_after_bounded_retries(front: Front,
                                                                 tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    path = front.write_kubeconfig(tmp_path / "dead.kubeconfig")
    path.write_text(path.read_text().replace(front.url, f"https://127.0.0.1:{port}"))
    c = connect_sync(opts(path), backoff=FAST)
    try:
        with pytest.raises(Unavailable, match=r"Connection refused|NewConnectionError"):
            c.get(ObjectRef("v1", "ConfigMap", "default", "x"))
        assert c.rest.stats[("GET", 0)] == FAST.attempts
    finally:
        c.close()


def test_tls_failure_is_not_retried(front: Front, front_kubeconfig: Path,
                                    embedded_cluster, tmp_path: Path) -> None:
    # The front's kubeconfig pointed at the cluster: the cluster's certificate is not signed
    # by the front's CA.
    path = tmp_path / "wrong-ca.kubeconfig"
    path.write_text(front_kubeconfig.read_text().replace(front.url, embedded_cluster.url))
    c = connect_sync(opts(path), backoff=FAST)
    try:
        with pytest.raises(KubeError, match="CERTIFICATE_VERIFY_FAILED") as err:
            c.get(ObjectRef("v1", "ConfigMap", "default", "x"))
        assert not isinstance(err.value, Unavailable)
        assert c.rest.stats[("GET", 0)] == 1
    finally:
        c.close()


async def test_qps_limit(front: Front, front_kubeconfig: Path, ns: str) -> None:
    import asyncio

    async with connect(opts(front_kubeconfig, qps=20.0, burst=5, workers=8)) as c:
        started = time.monotonic()
        await asyncio.gather(*(c.get(ObjectRef("v1", "ConfigMap", ns, f"q{i}"))
                               for i in range(25)))
        elapsed = time.monotonic() - started
    # 5 at once, then 20 more at 20 per second: at least ~1 s
    assert elapsed >= 0.95
    seen = sorted(s.at for s in front.requests("GET", "/configmaps/q"))
    assert len(seen) == 25
    # never more than burst + qps * t requests in the first t seconds
    for i, at in enumerate(seen):
        assert i + 1 <= 5 + 20 * (at - started) + 1e-6
