"""The kubelet running pods for real: each pod on its own loopback address (``127.x.y.z``)
serving the demo app over real HTTP, readiness from real probes, deletion, address clashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.cluster.workloads import with_root_ca
from webhook.cluster.api import ClusterAPI
from webhook.cluster.kubelet import AddressPool, run_kubelet

# --- pods for real -----------------------------------------------------------------------------


@pytest.fixture
async def node() -> AsyncIterator[tuple[ClusterAPI, AddressPool]]:
    api = with_root_ca(ClusterAPI())
    pool = AddressPool()
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_kubelet(api, stop, pool=pool, ready=ready))
    await asyncio.wait_for(ready.wait(), 5)
    try:
        yield api, pool
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def pod_body(name: str, env: dict[str, str] | None = None, probe: dict[str, Any] | None = None,
             ports: tuple[int, ...] = (8080,), grace: int = 30) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "demo:v7",
                         "ports": [{"containerPort": p, "name": f"p{p}"} for p in ports]}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if probe:
        c["readinessProbe"] = probe
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], "terminationGracePeriodSeconds": grace}}


async def wait_pod(api: ClusterAPI, name: str, predicate: Any, limit: float = 5.0
                   ) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        pod = await api.get("pods", "default", name)
        if predicate(pod):
            return pod
        if time.monotonic() > deadline:
            raise AssertionError(f"pod {name}: timed out, last status {pod.get('status')}")
        await asyncio.sleep(0.02)


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions", []))


async def get(url: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.json(), time.monotonic() - started


async def test_a_pod_is_bound_gets_its_own_address_and_serves_every_port(node):
    api, pool = node
    await api.create("pods", "default", pod_body("a", ports=(8080, 9090)))
    await api.create("pods", "default", pod_body("b"))
    a = await wait_pod(api, "a", is_ready)
    b = await wait_pod(api, "b", is_ready)
    assert a["spec"]["nodeName"] == "canarist-node"
    assert a["status"]["podIP"] != b["status"]["podIP"]
    assert a["status"]["hostIP"] == pool.host_ip
    for port in (8080, 9090):
        code, body, _ = await get(f"http://{a['status']['podIP']}:{port}/any/path")
        assert code == 200
        assert body == {"version": "v7", "pod": "a", "namespace": "default",
                        "ip": a["status"]["podIP"], "method": "GET", "path": "/any/path"}


async def test_the_error_rate_and_latency_come_from_the_env(node):
    api, _ = node
    await api.create("pods", "default", pod_body(
        "e", env={"DEMO_ERROR_RATE": "0.25", "DEMO_LATENCY_MS": "30", "VERSION": "bad"}))
    pod = await wait_pod(api, "e", is_ready)
    url = f"http://{pod['status']['podIP']}:8080/"
    codes, slowest = [], 0.0
    for _ in range(40):
        code, body, took = await get(url)
        codes.append(code)
        slowest = max(slowest, took)
        assert body["version"] == "bad"
    assert codes.count(500) == 10 and codes[3] == codes[7] == 500
    assert slowest >= 0.03


async def test_readiness_waits_for_the_probe_and_ready_after(node):
    api, _ = node
    probe = {"httpGet": {"path": "/healthz", "port": "p8080"}, "periodSeconds": 1,
             "initialDelaySeconds": 0}
    started = time.monotonic()
    await api.create("pods", "default", pod_body("slow", env={"DEMO_READY_AFTER_S": "1"},
                                                 probe=probe))
    pod = await wait_pod(api, "slow", lambda p: p.get("status", {}).get("phase") == "Running")
    assert not is_ready(pod)
    code, body, _ = await get(f"http://{pod['status']['podIP']}:8080/")
    assert code == 503 and body["error"] == "starting"
    await wait_pod(api, "slow", is_ready, limit=5)
    assert time.monotonic() - started >= 1.0


async def test_initial_delay_seconds_holds_readiness(node):
    api, _ = node
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1,
             "initialDelaySeconds": 1}
    started = time.monotonic()
    await api.create("pods", "default", pod_body("late", probe=probe))
    await wait_pod(api, "late", is_ready, limit=5)
    assert time.monotonic() - started >= 1.0


async def test_a_bad_env_value_keeps_the_container_waiting_with_the_reason(node):
    api, _ = node
    await api.create("pods", "default", pod_body("cfg", env={"DEMO_ERROR_RATE": "2"}))
    pod = await wait_pod(api, "cfg", lambda p: p.get("status", {}).get("containerStatuses"))
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    assert "DEMO_ERROR_RATE" in waiting["message"]
    assert pod["status"]["phase"] == "Pending"


async def test_a_deleted_pod_stops_serving_then_is_removed(node):
    api, _ = node
    await api.create("pods", "default", pod_body("d", grace=30))
    pod = await wait_pod(api, "d", is_ready)
    url = f"http://{pod['status']['podIP']}:8080/"
    assert (await get(url))[0] == 200
    started = time.monotonic()
    await api.delete("pods", "default", "d")
    deadline = time.monotonic() + 5
    while True:
        items, _ = await api.list("pods", "default")
        if not items:
            break
        assert time.monotonic() < deadline, "pod object not removed"
        await asyncio.sleep(0.02)
    assert time.monotonic() - started < 3  # grace 30 s is capped
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(url)


async def test_an_address_taken_elsewhere_on_the_machine_is_skipped():
    """Another cluster on this machine listens on the address this pod gets first
    (127.x.0.2: .1 is the node's): binding fails with EADDRINUSE and the next one is used."""
    api, stop, ready = with_root_ca(ClusterAPI()), asyncio.Event(), asyncio.Event()
    with socket.socket() as other:
        for _ in range(20):  # a subnet nobody else on the machine uses right now
            octet = random.randint(16, 254)
            with contextlib.suppress(OSError):
                other.bind((f"127.{octet}.0.2", 8080))
                break
        other.listen()
        task = asyncio.create_task(run_kubelet(api, stop, pool=AddressPool(octet=octet),
                                               ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 5)
            await api.create("pods", "default", pod_body("x"))
            pod = await wait_pod(api, "x", is_ready)
            assert pod["status"]["podIP"] == f"127.{octet}.0.3"
            assert (await get(f"http://{pod['status']['podIP']}:8080/"))[0] == 200
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
