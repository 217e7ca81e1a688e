"""Adoption of an orphaned ReplicaSet as a Deployment's new one, live: the controllers, the
garbage collector and the kubelet on an in-process API (the conditions one by one are in
``test_controllers_deployment_adoption``). This is what canarist's promotion relies on: a
Deployment ``canary`` running exactly the template of a paused Deployment ``web`` is deleted
with ``propagationPolicy: Orphan``; ``web`` adopts its ReplicaSet with its pods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cluster.test_controllers_loops import DEPLOYMENTS, NS, REPLICASETS, Env, deployment
from tests.cluster.workloads import running_workloads
from webhook.cluster.api import ClusterAPI

LABELS = {"app": "web", "rev": "2"}


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    api = ClusterAPI()
    e = Env(api)
    async with running_workloads(api, clock=e.clock):
        yield e


def v2_template() -> dict[str, Any]:
    body: dict[str, Any] = deployment(image="demo:v2")["spec"]["template"]
    body["metadata"]["labels"] = dict(LABELS)
    return body


async def paused_on_v2(e: Env, **meta: Any) -> set[str]:
    """``web`` rolled out on v1 (3 pods), then paused with the v2 template; the uids of its
    pods."""
    body = deployment()
    body["metadata"].update(meta)
    await e.api.create(DEPLOYMENTS, NS, body)
    await e.available("web", 3)
    await e.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"paused": True}}, "merge")
    await e.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"template": v2_template()}}, "merge")
    return {p["metadata"]["uid"] for p in await e.items("pods", "app=web")}


async def canary_pods(e: Env) -> set[str]:
    """``canary``: v2's template, selector ``app=web,rev=2``; the uids of its 3 pods."""
    body = deployment("canary", image="demo:v2")
    body["spec"]["selector"] = {"matchLabels": dict(LABELS)}
    body["spec"]["template"] = v2_template()
    await e.api.create(DEPLOYMENTS, NS, body)
    await e.available("canary", 3)
    return {p["metadata"]["uid"] for p in await e.items("pods", "rev=2")}


async def orphan_canary(e: Env) -> dict[str, Any]:
    [rs] = await e.items(REPLICASETS, "rev=2")
    await e.api.delete(DEPLOYMENTS, NS, "canary", propagation_policy="Orphan")
    return rs


def controller(obj: dict[str, Any]) -> str | None:
    refs = obj["metadata"].get("ownerReferences") or ()
    return next((r["name"] for r in refs if r.get("controller")), None)


async def test_an_orphan_with_the_template_becomes_the_new_replica_set_with_its_pods(env: Env):
    old_pods = await paused_on_v2(env)
    tested = await canary_pods(env)
    rs = await orphan_canary(env)
    name = rs["metadata"]["name"]

    async def adopted() -> bool:
        found = await env.get(REPLICASETS, name)
        old = [r for r in await env.items(REPLICASETS, "app=web") if r["metadata"]["name"] != name]
        return controller(found) == "web" and all(r["spec"]["replicas"] == 0 for r in old)

    await env.until(adopted, what="adopted; the old ReplicaSet at 0 while paused")
    found = await env.get(REPLICASETS, name)
    assert found["metadata"]["uid"] == rs["metadata"]["uid"]
    assert found["spec"]["replicas"] == 3
    ann = found["metadata"]["annotations"]
    assert (ann["deployment.kubernetes.io/revision"],
            ann["deployment.kubernetes.io/revision-history"]) == ("2", "1")
    assert found["metadata"]["labels"]["pod-template-hash"] == rs["metadata"]["labels"][
        "pod-template-hash"]
    d = await env.get(DEPLOYMENTS, "web")
    assert d["spec"]["paused"] is True and d["status"].get("updatedReplicas") == 3

    await env.api.patch(DEPLOYMENTS, NS, "web", {"spec": {"paused": False}}, "merge")
    d = await env.available("web", 3)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert len(await env.items(REPLICASETS, "app=web")) == 2  # no third: nothing rolled out

    async def only_tested() -> bool:
        live = {p["metadata"]["uid"] for p in await env.items("pods", "app=web")
                if not p["metadata"].get("deletionTimestamp")}
        return live == tested

    await env.until(only_tested, what="only the canary's pods left")
    assert not old_pods & tested


async def test_a_deployment_being_deleted_adopts_nothing(env: Env):
    await paused_on_v2(env, finalizers=["test.canarist.io/hold"])
    await canary_pods(env)
    await env.api.delete(DEPLOYMENTS, NS, "web")  # held by its finalizer: being deleted
    rs = await orphan_canary(env)
    await env.until(lambda: _orphaned(env, rs["metadata"]["name"]), what="orphaned")
    await asyncio.sleep(1.0)  # time for any (wrong) adoption
    assert controller(await env.get(REPLICASETS, rs["metadata"]["name"])) is None
    await env.api.patch(DEPLOYMENTS, NS, "web", {"metadata": {"finalizers": None}}, "merge")


async def test_a_replica_set_being_deleted_is_not_adopted(env: Env):
    await paused_on_v2(env)
    await canary_pods(env)
    [rs] = await env.items(REPLICASETS, "rev=2")
    name = rs["metadata"]["name"]
    await env.api.patch(REPLICASETS, NS, name,
                        {"metadata": {"finalizers": ["test.canarist.io/hold"]}}, "merge")
    await env.api.delete(REPLICASETS, NS, name, propagation_policy="Orphan")
    await env.api.delete(DEPLOYMENTS, NS, "canary", propagation_policy="Orphan")
    await env.until(lambda: _orphaned(env, name), what="orphaned")
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        assert controller(await env.get(REPLICASETS, name)) is None
        await asyncio.sleep(0.1)
    await env.api.patch(REPLICASETS, NS, name, {"metadata": {"finalizers": None}}, "merge")


async def test_an_orphan_its_selector_does_not_match_is_left_alone(env: Env):
    await paused_on_v2(env)
    await canary_pods(env)
    [rs] = await env.items(REPLICASETS, "rev=2")
    name = rs["metadata"]["name"]
    await env.api.patch(REPLICASETS, NS, name, {"metadata": {"labels": {"app": "api"}}},
                        "merge")  # the canary releases it (its selector no longer matches)
    await env.until(lambda: _orphaned(env, name), what="released")
    await asyncio.sleep(1.0)
    assert controller(await env.get(REPLICASETS, name)) is None


async def _orphaned(env: Env, name: str) -> bool:
    return controller(await env.get(REPLICASETS, name)) is None
