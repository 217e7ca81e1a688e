"""Garbage collection through ownerReferences: background, foreground, orphan, namespaces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from webhook.cluster.api import ClusterAPI
from webhook.cluster.gc import GarbageCollector
from webhook.errors import APIStatusError

RS = "replicasets.apps"
D = "deployments.apps"


def owned(name: str, owner: dict[str, Any], block: bool = True) -> dict[str, Any]:
    md = owner["metadata"]
    return {"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"],
        "uid": md["uid"], "controller": True, "blockOwnerDeletion": block}]}}


async def exists(api: ClusterAPI, resource: str, name: str, ns: str | None = "default") -> bool:
    try:
        await api.get(resource, ns, name)
    except APIStatusError as exc:
        assert exc.status == 404
        return False
    return True


async def settle(gc: GarbageCollector) -> None:
    for _ in range(5):
        async with asyncio.timeout(5):
            await gc.wait_idle()
        await asyncio.sleep(0.01)


@pytest.fixture
async def cluster() -> Any:
    api = ClusterAPI()
    gc = GarbageCollector(api)
    stop = asyncio.Event()
    task = asyncio.create_task(gc.run(stop))
    yield api, gc
    stop.set()
    await task


async def test_background_deletes_dependents_after_the_owner(cluster: Any) -> None:
    api, gc = cluster
    owner = await api.create("configmaps", "default", {"metadata": {"name": "owner"}})
    child = await api.create("configmaps", "default", owned("child", owner))
    await api.create("configmaps", "default", owned("grandchild", child))
    await api.delete("configmaps", "default", "owner")
    await settle(gc)
    assert not await exists(api, "configmaps", "child")
    assert not await exists(api, "configmaps", "grandchild")


async def test_owner_is_identified_by_uid_not_name(cluster: Any) -> None:
    api, gc = cluster
    owner = await api.create("configmaps", "default", {"metadata": {"name": "o"}})
    await api.create("configmaps", "default", owned("c", owner))
    await api.delete("configmaps", "default", "o")
    await api.create("configmaps", "default", {"metadata": {"name": "o"}})  # same name, new uid
    await settle(gc)
    assert not await exists(api, "configmaps", "c")


async def test_a_dependent_with_a_live_owner_stays(cluster: Any) -> None:
    api, gc = cluster
    a = await api.create("configmaps", "default", {"metadata": {"name": "a"}})
    b = await api.create("configmaps", "default", {"metadata": {"name": "b"}})
    two = owned("two", a)
    two["metadata"]["ownerReferences"].append(owned("x", b)["metadata"]["ownerReferences"][0]
                                              | {"controller": False})
    await api.create("configmaps", "default", two)
    await api.delete("configmaps", "default", "a")
    await settle(gc)
    left = await api.get("configmaps", "default", "two")
    assert [r["name"] for r in left["metadata"]["ownerReferences"]] == ["b"]


async def test_orphan_strips_owner_references_and_keeps_dependents(cluster: Any) -> None:
    api, gc = cluster
    owner = await api.create("configmaps", "default", {"metadata": {"name": "owner"}})
    await api.create("configmaps", "default", owned("child", owner))
    held = await api.delete("configmaps", "default", "owner", propagation_policy="Orphan")
    assert held["metadata"]["finalizers"] == ["orphan"]
    await settle(gc)
    assert not await exists(api, "configmaps", "owner")
    child = await api.get("configmaps", "default", "child")
    assert "ownerReferences" not in child["metadata"]


async def test_foreground_deletes_blocking_dependents_first(cluster: Any) -> None:
    api, gc = cluster
    owner = await api.create("configmaps", "default", {"metadata": {"name": "owner"}})
    child = owned("child", owner)
    child["metadata"]["finalizers"] = ["example.com/hold"]  # keeps the child around for a while
    await api.create("configmaps", "default", child)
    held = await api.delete("configmaps", "default", "owner", propagation_policy="Foreground")
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    await settle(gc)
    # the child is being deleted but its finalizer holds it, and it blocks the owner
    assert (await api.get("configmaps", "default", "child"))["metadata"]["deletionTimestamp"]
    assert await exists(api, "configmaps", "owner")
    await api.patch("configmaps", "default", "child", {"metadata": {"finalizers": None}},
                    "merge")
    await settle(gc)
    assert not await exists(api, "configmaps", "child")
    assert not await exists(api, "configmaps", "owner")


async def test_deployment_delete_cascades_to_replicasets_and_pods(cluster: Any) -> None:
    api, gc = cluster
    dep = await api.create(D, "default", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    rs_body = owned("web-1", dep)
    rs_body["spec"] = dep["spec"] | {"replicas": 1}
    del rs_body["spec"]["strategy"], rs_body["spec"]["revisionHistoryLimit"]
    del rs_body["spec"]["progressDeadlineSeconds"]
    rs = await api.create(RS, "default", rs_body)
    pod = owned("web-1-abcde", rs)
    pod["spec"] = {"containers": [{"name": "c", "image": "i"}]}
    await api.create("pods", "default", pod)
    await api.delete(D, "default", "web")
    await settle(gc)
    assert not await exists(api, RS, "web-1")
    assert not await exists(api, "pods", "web-1-abcde")


async def test_dangling_owner_at_creation_is_collected(cluster: Any) -> None:
    api, gc = cluster
    ghost = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}
    await api.create("configmaps", "default", owned("orphaned", ghost))
    await settle(gc)
    assert not await exists(api, "configmaps", "orphaned")


async def test_namespace_deletion_empties_then_removes_it(cluster: Any) -> None:
    api, gc = cluster
    await api.create("namespaces", None, {"metadata": {"name": "gone"}})
    await api.create("configmaps", "gone", {"metadata": {"name": "a"}})
    await api.create(D, "gone", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    await api.delete("namespaces", None, "gone")
    await settle(gc)
    assert not await exists(api, "namespaces", "gone", None)
    assert (await api.list("configmaps", "gone"))[0] == []
