"""The controllers and the kubelet running together on the in-process API (no HTTP).

Each test gets a fresh ``ClusterAPI`` with the Deployment, ReplicaSet and EndpointSlice
controllers, the kubelet and the garbage collector on the test's event loop; pods are real
servers on loopback addresses. Behaviour is asserted on the stored objects and on what the pods
answer, with the upstream behaviour each test pins named in its docstring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from tests.cluster.workloads import running_workloads
from webhook.cluster.api import ClusterAPI

NS = "default"
DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"
SLICES = "endpointslices.discovery.k8s.io"


@dataclass
class Env:
    api: ClusterAPI
    offset: list[float] = field(default_factory=lambda: [0.0])

    def clock(self) -> float:
        return time.time() + self.offset[0]

    async def get(self, resource: str, name: str) -> dict[str, Any]:
        return await self.api.get(resource, NS, name)

    async def items(self, resource: str, selector: str | None = None) -> list[dict[str, Any]]:
        items, _ = await self.api.list(resource, NS, label_selector=selector)
        return items

    async def until(self, check: Callable[[], Awaitable[Any]], limit: float = 15.0,
                    what: str = "condition") -> Any:
        deadline = time.monotonic() + limit
        while True:
            value = await check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def available(self, name: str, replicas: int, limit: float = 15.0) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            d = await self.get(DEPLOYMENTS, name)
            st = d.get("status") or {}
            done = (st.get("observedGeneration", 0) >= d["metadata"]["generation"]
                    and st.get("updatedReplicas") == replicas == st.get("availableReplicas")
                    and st.get("replicas") == replicas)
            return d if done else None
        result: dict[str, Any] = await self.until(check, limit, f"{name} rolled out")
        return result


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    api = ClusterAPI()
    e = Env(api)
    async with running_workloads(api, clock=e.clock):
        yield e


def deployment(name: str = "web", image: str = "demo:v1", replicas: int = 3, *,
               env: dict[str, str] | None = None, probe: bool = True,
               **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image,
                                 "ports": [{"name": "http", "containerPort": 8080}]}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if probe:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                                       "periodSeconds": 1}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [container]}}},
    }
    body["spec"].update(spec)
    return body


async def set_image(e: Env, name: str, image: str, **env: str) -> None:
    container: dict[str, Any] = {"name": "app", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    await e.api.patch(DEPLOYMENTS, NS, name, {"spec": {"template": {"spec": {
        "containers": [container]}}}}, "strategic")


async def fetch(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(url, timeout=aiohttp.ClientTimeout(3)) as r:
        return r.status, await r.json()


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def replicas_by_rs(rss: list[dict[str, Any]]) -> dict[str, int]:
    return {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
            r["spec"]["replicas"] for r in rss}


# --- rollout -----------------------------------------------------------------------------------


async def test_a_new_deployment_becomes_available_and_its_pods_serve_the_demo_app(env: Env):
    await env.api.create(DEPLOYMENTS, NS, deployment())
    d = await env.available("web", 3)
    conds = {c["type"]: (c["status"], c["reason"]) for c in d["status"]["conditions"]}
    assert conds == {"Available": ("True", "MinimumReplicasAvailable"),
                     "Progressing": ("True", "NewReplicaSetAvailable")}
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = await env.items("pods", "app=web")
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3 and all(ip.startswith("127.") for ip in ips)
    for pod in pods:
        status, body = await fetch(f"http://{pod['status']['podIP']}:8080/hello")
        assert status == 200
        assert body["version"] == "v1" and body["pod"] == pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] == "canarist-node"
        assert pod["metadata"]["generateName"].startswith("web-")


async def test_rolling_update_keeps_within_max_surge_and_max_unavailable(env: Env):
    """rolling.go: the ReplicaSets never ask for more than replicas+maxSurge pods in total
    (NewRSNewReplicas counts spec.replicas), and never fewer than replicas-maxUnavailable pods
    are ready (4 replicas, maxSurge 1, maxUnavailable 1). Live pods may exceed the surge for a
    moment, upstream too: the ReplicaSet controller's workers create the new RS's pod and delete
    the old RS's pod concurrently."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=4, strategy=strategy))
    await env.available("web", 4)
    await set_image(env, "web", "demo:v2")
    worst_ready, worst_spec = 99, 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = live(await env.items("pods", "app=web"))
        ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                        for c in (p.get("status") or {}).get("conditions", []))]
        worst_ready = min(worst_ready, len(ready))
        specs = sum(rs["spec"]["replicas"] for rs in await env.items(REPLICASETS, "app=web"))
        worst_spec = max(worst_spec, specs)
        d = await env.get(DEPLOYMENTS, "web")
        st = d.get("status") or {}
        if (st.get("updatedReplicas") == 4 == st.get("availableReplicas") == st.get("replicas")
                and st.get("observedGeneration") == d["metadata"]["generation"]):
            break
        await asyncio.sleep(0.02)
    assert worst_spec <= 5
    assert worst_ready >= 3
    rss = await env.items(REPLICASETS, "app=web")
    assert replicas_by_rs(rss) == {"1": 0, "2": 4}
    for pod in live(await env.items("pods", "app=web")):
        assert (await fetch(f"http://{pod['status']['podIP']}:8080/"))[1]["version"] == "v2"
    events = [e["message"] for e in await env.items("events")
              if e["involvedObject"]["name"] == "web" and e["reason"] == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled down replica set web-") and m.endswith("to 0")
               for m in events)


async def test_recreate_deletes_every_old_pod_before_creating_a_new_one(env: Env):
    """recreate.go: old RSs to 0, wait for their pods to be gone, then the new RS."""
    await env.api.create(DEPLOYMENTS, NS, deployment(strategy={"type": "Recreate"}))
    await env.available("web", 3)
    seen: list[tuple[str, str, str]] = []
    watch = env.api.watch("pods", NS, resource_version=(await env.api.list("pods", NS))[1])

    async def record() -> None:
        async for ev in watch:
            obj = ev["object"]
            seen.append((ev["type"], obj["metadata"]["name"],
                         obj["metadata"]["labels"]["pod-template-hash"]))

    recorder = asyncio.create_task(record())
    old_hash = (await env.items("pods", "app=web"))[0]["metadata"]["labels"]["pod-template-hash"]
    await set_image(env, "web", "demo:v2")
    await env.available("web", 3)
    recorder.cancel()
    first_new = next(i for i, (t, _, h) in enumerate(seen) if t == "ADDED" and h != old_hash)
    old_deleted = {n for t, n, h in seen[:first_new] if t == "DELETED" and h == old_hash}
    assert len(old_deleted) == 3


# --- paused ------------------------------------------------------------------------------------


async def test_paused_template_change_keeps_old_pods_and_creates_no_replica_set(env: Env):
    """sync.go sync(): paused -> getAllReplicaSetsAndSyncRevision(createIfNotExisted=false)."""
    await env.api.create(DEPLOYMENTS, NS, deployment())
    await env.available("web", 3)
    pods_before = {p["metadata"]["name"] for p in await env.items("pods", "app=web")}
    await env.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"paused": True}}, "merge")
    await set_image(env, "web", "demo:v2")

    async def observed() -> dict[str, Any] | None:
        d = await env.get(DEPLOYMENTS, "web")
        ok = d["status"].get("observedGeneration") == d["metadata"]["generation"]
        return d if ok else None

    d = await env.until(observed)
    await asyncio.sleep(0.5)
    assert len(await env.items(REPLICASETS, "app=web")) == 1
    assert {p["metadata"]["name"] for p in await env.items("pods", "app=web")} == pods_before
    assert "updatedReplicas" not in d["status"]  # 0: the template has no RS
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    # Resume: the new RS appears and the rollout completes.
    await env.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"paused": False}}, "merge")
    await env.available("web", 3)
    assert replicas_by_rs(await env.items(REPLICASETS, "app=web")) == {"1": 0, "2": 3}


async def test_paused_mid_rollout_scales_proportionally_the_worked_example(env: Env):
    """sync.go scale(): replicas 10, maxSurge 3, maxUnavailable 2; the new pods never get
    ready so the rollout stalls at old 8 / new 5; paused and scaled to 15 -> old 11, new 7."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=10, strategy=strategy))
    await env.available("web", 10, limit=25)
    await set_image(env, "web", "demo:v2", DEMO_READY_AFTER_S="3600")

    async def stalled() -> bool:
        sizes = replicas_by_rs(await env.items(REPLICASETS, "app=web"))
        return sizes == {"1": 8, "2": 5}

    await env.until(stalled, what="old 8 / new 5")
    await env.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"paused": True, "replicas": 15}},
                        "merge")

    async def scaled() -> bool:
        sizes = replicas_by_rs(await env.items(REPLICASETS, "app=web"))
        return sizes == {"1": 11, "2": 7}

    await env.until(scaled, what="old 11 / new 7")
    for rs in await env.items(REPLICASETS, "app=web"):
        ann = rs["metadata"]["annotations"]
        assert ann["deployment.kubernetes.io/desired-replicas"] == "15"
        assert ann["deployment.kubernetes.io/max-replicas"] == "18"


# --- scaling, deletion, history ----------------------------------------------------------------


async def test_scale_down_and_up_through_the_scale_subresource(env: Env):
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=2))
    await env.available("web", 2)
    scale = await env.api.get(DEPLOYMENTS, NS, "web", subresource="scale")
    scale["spec"]["replicas"] = 4
    await env.api.update(DEPLOYMENTS, NS, scale, subresource="scale", name="web")
    await env.available("web", 4)
    await env.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"replicas": 1}}, "merge")
    await env.available("web", 1)
    await env.until(lambda: _count_pods(env, 1), what="one pod left")


async def _count_pods(env: Env, n: int) -> bool:
    return len(await env.items("pods", "app=web")) == n


async def test_a_deleted_pod_stops_serving_is_removed_and_replaced(env: Env):
    """ReplicaSet controller replaces the pod; the kubelet stops it and deletes it (grace 0)."""
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=1))
    await env.available("web", 1)
    [pod] = await env.items("pods", "app=web")
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    await env.api.delete("pods", NS, name)

    async def gone() -> bool:
        names = {p["metadata"]["name"] for p in await env.items("pods", "app=web")}
        return name not in names

    await env.until(gone, limit=5, what="the deleted pod to be removed")
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(f"http://{ip}:8080/")
    await env.available("web", 1)
    [replacement] = await env.items("pods", "app=web")
    assert replacement["metadata"]["name"] != name


async def test_revision_history_limit_deletes_old_replica_sets(env: Env):
    """cleanupDeployment: only revisionHistoryLimit old RSs are kept after a rollout."""
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=1, revisionHistoryLimit=1))
    await env.available("web", 1)
    for image in ("demo:v2", "demo:v3"):
        await set_image(env, "web", image)
        await env.available("web", 1)

    async def trimmed() -> bool:
        return sorted(replicas_by_rs(await env.items(REPLICASETS, "app=web"))) == ["2", "3"]

    await env.until(trimmed, what="history trimmed to one old RS")


async def test_deleting_the_deployment_removes_replica_sets_and_pods(env: Env):
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=2))
    await env.available("web", 2)
    await env.api.delete(DEPLOYMENTS, NS, "web")

    async def empty() -> bool:
        return not await env.items(REPLICASETS, "app=web") and not await env.items(
            "pods", "app=web")

    await env.until(empty, what="garbage collection of RSs and pods")


# --- conditions --------------------------------------------------------------------------------


async def test_progress_deadline_exceeded_when_new_pods_never_become_ready(env: Env):
    """progress.go: Progressing False ProgressDeadlineExceeded once lastUpdateTime + deadline
    passes; the controller requeues itself for that check."""
    await env.api.create(DEPLOYMENTS, NS, deployment(
        replicas=1, progressDeadlineSeconds=1, env={"DEMO_READY_AFTER_S": "3600"}))

    async def timed_out() -> dict[str, Any] | None:
        d = await env.get(DEPLOYMENTS, "web")
        for c in (d.get("status") or {}).get("conditions", []):
            if c["type"] == "Progressing" and c["reason"] == "ProgressDeadlineExceeded":
                return dict(c)
        return None

    cond = await env.until(timed_out, limit=8, what="ProgressDeadlineExceeded")
    assert cond["status"] == "False"
    assert cond["message"].startswith('ReplicaSet "web-') and cond["message"].endswith(
        'has timed out progressing.')


async def test_min_ready_seconds_delays_availability(env: Env):
    """IsPodAvailable: ready for minReadySeconds before counting as available."""
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=1, minReadySeconds=2,
                                                     probe=False))

    async def ready_not_available() -> bool:
        st = (await env.get(DEPLOYMENTS, "web")).get("status") or {}
        return st.get("readyReplicas") == 1 and not st.get("availableReplicas")

    await env.until(ready_not_available, what="ready but not yet available")
    started = time.monotonic()
    await env.available("web", 1, limit=8)
    assert time.monotonic() - started >= 1.0


# --- EndpointSlices ----------------------------------------------------------------------------


async def test_endpoint_slices_follow_readiness_and_named_target_ports(env: Env):
    await env.api.create("services", NS, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    await env.api.create(DEPLOYMENTS, NS, deployment(replicas=2,
                                                     env={"DEMO_READY_AFTER_S": "1"}))

    async def endpoints() -> list[dict[str, Any]]:
        slices = await env.items(SLICES, "kubernetes.io/service-name=web")
        return [e for s in slices for e in s["endpoints"] or []]

    async def listed_not_ready() -> bool:
        eps = await endpoints()
        return len(eps) == 2 and not any(e["conditions"]["ready"] for e in eps)

    await env.until(listed_not_ready, what="two not-ready endpoints")

    async def all_ready() -> bool:
        eps = await endpoints()
        return len(eps) == 2 and all(e["conditions"]["ready"] for e in eps)

    await env.until(all_ready, what="two ready endpoints")
    [slice_] = await env.items(SLICES, "kubernetes.io/service-name=web")
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    pods = {p["status"]["podIP"] for p in await env.items("pods", "app=web")}
    assert {e["addresses"][0] for e in await endpoints()} == pods
