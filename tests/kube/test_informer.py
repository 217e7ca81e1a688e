"""Informers against a real API server over HTTPS (a cluster of their own with a short event
history and frequent bookmarks), through the fault-injecting front: list then watch, resume
after a dropped stream, relist after 410, bookmarks, CRDs installed later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.conftest import FAST, configmap, new_namespace
from tests.kube.front import Front
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.errors import Invalid
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.informer import Informer, owner_uids, start_all, stop_all
from webhook.kube.protocol import JSON, ObjectRef

HISTORY = 30
CRDS = Path(__file__).parent.parent / "data" / "crds"


@pytest.fixture(scope="module")
def small() -> Iterator[RunningCluster]:
    cluster = start_in_thread(
        history_size=HISTORY, bookmark_interval=0.2,
        without=frozenset({"webhook", "kubelet", "controllers", "reconciler"}))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def small_front(small: RunningCluster) -> Iterator[Front]:
    f = Front(small).start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
async def via_front(small_front: Front, tmp_path: Path) -> AsyncIterator[KubeClient]:
    small_front.faults.clear()
    small_front.watches_blocked = False
    path = small_front.write_kubeconfig(tmp_path / "kubeconfig")
    async with connect(ClientOptions(kubeconfig=str(path)), backoff=FAST) as c:
        yield c


ROOT_CA = "kube-root-ca.crt"  # in every namespace of a cluster: not one of the tests' own


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def __call__(self, etype: str, obj: JSON, old: JSON | None) -> None:
        md = obj["metadata"]
        if md["name"] != ROOT_CA:
            self.events.append((etype, md["name"], (obj.get("data") or {}).get("v", "")))

    def names(self, etype: str) -> list[str]:
        return [n for t, n, _ in self.events if t == etype]


async def eventually(check: Callable[[], Any], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


def cm(ns: str, name: str, v: str = "1", **labels: str) -> JSON:
    obj = configmap(ns, name, v=v)
    obj["metadata"]["labels"] = dict(labels)
    return obj


async def test_list_then_watch_with_a_selector(small: RunningCluster, via_front: KubeClient,
                                               small_front: Front) -> None:
    ns = new_namespace(small, "inf")
    await via_front.create(cm(ns, "before", team="a"))
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns, label_selector="team=a")
    log = Log()
    inf.add_handler(log)
    assert await start_all([inf], within=5)
    try:
        assert [o["metadata"]["name"] for o in inf.list()] == ["before"]
        assert log.events == [("ADDED", "before", "1")]
        listed_rv = inf.resource_version

        def watched() -> bool:
            return any(s.query.get("watch") == "true"
                       and s.query.get("resourceVersion") == listed_rv
                       and s.query.get("allowWatchBookmarks") == "true"
                       and s.query.get("labelSelector") == "team=a"
                       for s in small_front.requests("GET", f"/namespaces/{ns}/configmaps"))

        await eventually(watched)
        await via_front.create(cm(ns, "new", team="a"))
        await via_front.create(cm(ns, "other-team", team="b"))
        await via_front.patch(ObjectRef("v1", "ConfigMap", ns, "before"), {"data": {"v": "2"}})
        await via_front.patch(ObjectRef("v1", "ConfigMap", ns, "new"),
                              {"metadata": {"labels": {"team": "b"}}})  # leaves the selection
        await eventually(lambda: len(log.events) == 4)
        assert log.events[1:] == [("ADDED", "new", "1"), ("MODIFIED", "before", "2"),
                                  ("DELETED", "new", "1")]
        assert inf.get(ns, "before")["data"] == {"v": "2"}  # type: ignore[index]
        assert inf.get(ns, "new") is None and len(inf) == 1
        assert inf.relists == 0
    finally:
        await stop_all([inf])


async def test_a_dropped_stream_resumes_from_the_last_resource_version(
        small: RunningCluster, via_front: KubeClient, small_front: Front) -> None:
    ns = new_namespace(small, "inf")
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns)
    log = Log()
    inf.add_handler(log)
    await start_all([inf])
    try:
        created = await via_front.create(cm(ns, "a"))
        await eventually(lambda: inf.get(ns, "a") is not None)
        assert small_front.drop_watches() >= 1
        await via_front.patch(ObjectRef("v1", "ConfigMap", ns, "a"), {"data": {"v": "2"}})
        await eventually(lambda: (inf.get(ns, "a") or {}).get("data") == {"v": "2"})
        resumed = [s for s in small_front.requests("GET", f"/namespaces/{ns}/configmaps")
                   if s.query.get("watch") == "true"]
        assert len(resumed) >= 2
        assert int(resumed[-1].query["resourceVersion"]) >= int(
            created["metadata"]["resourceVersion"])
        assert inf.relists == 0 and inf.rewatches >= 1
        assert log.events == [("ADDED", "a", "1"), ("MODIFIED", "a", "2")]  # no replays
    finally:
        await stop_all([inf])


async def flood(client: KubeClient, ns: str, n: int) -> None:
    for i in range(n):
        await client.create(cm(ns, f"f{i}"))


async def test_410_expired_relists_and_reports_what_changed_meanwhile(
        small: RunningCluster, via_front: KubeClient, small_front: Front) -> None:
    ns, busy = new_namespace(small, "inf"), new_namespace(small, "busy")
    for name in ("keep", "change", "gone"):
        await via_front.create(cm(ns, name))
    # (retries back off exponentially while the watches are blocked; capped here so a flood
    # that is slow on a busy machine does not push the next attempt past the wait below)
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns, max_backoff=2.0)
    log = Log()
    inf.add_handler(log)
    await start_all([inf])
    try:
        small_front.watches_blocked = True
        small_front.drop_watches()
        await via_front.patch(ObjectRef("v1", "ConfigMap", ns, "change"), {"data": {"v": "2"}})
        await via_front.delete(ObjectRef("v1", "ConfigMap", ns, "gone"))
        await via_front.create(cm(ns, "born"))
        await flood(via_front, busy, HISTORY + 5)  # the informer's rv leaves the history
        small_front.watches_blocked = False
        await eventually(lambda: inf.relists >= 1, within=10)
        await eventually(lambda: sorted(o["metadata"]["name"] for o in inf.list()
                                        if o["metadata"]["name"] != ROOT_CA)
                         == ["born", "change", "keep"])
        assert ("MODIFIED", "change", "2") in log.events
        assert ("DELETED", "gone", "1") in log.events
        assert ("ADDED", "born", "1") in log.events
        assert log.names("ADDED").count("keep") == 1  # unchanged objects are not replayed
        def watches() -> int:  # a request shows its status once the upstream has answered
            return len([s for s in small_front.requests("GET", f"/namespaces/{ns}/configmaps")
                        if s.query.get("watch") == "true" and s.status == 200])

        await eventually(lambda: watches() >= 2)
        # and it keeps following after the relist
        await via_front.create(cm(ns, "after"))
        await eventually(lambda: inf.get(ns, "after") is not None)
    finally:
        await stop_all([inf])


@pytest.mark.parametrize("bookmarks", [True, False])
async def test_bookmarks_keep_a_quiet_watch_resumable(
        small: RunningCluster, via_front: KubeClient, small_front: Front,
        bookmarks: bool) -> None:
    quiet, busy = new_namespace(small, "quiet"), new_namespace(small, "busy")
    await via_front.create(cm(quiet, "only"))
    inf = Informer(via_front, "v1", "ConfigMap", namespace=quiet, bookmarks=bookmarks)
    await start_all([inf])
    try:
        start_rv = int(inf.resource_version)
        await flood(via_front, busy, HISTORY + 5)
        latest = int(small.api.store.rv)
        if bookmarks:
            await eventually(lambda: int(inf.resource_version) >= latest, within=3)
        else:
            await asyncio.sleep(0.5)
            assert int(inf.resource_version) == start_rv  # nothing moved it
        small_front.drop_watches()
        await via_front.create(cm(quiet, "later"))
        await eventually(lambda: inf.get(quiet, "later") is not None, within=10)
        assert inf.relists == (0 if bookmarks else 1)
    finally:
        await stop_all([inf])


async def test_handler_errors_do_not_stop_the_informer(small: RunningCluster,
                                                       via_front: KubeClient,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    ns = new_namespace(small, "inf")
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns)
    log = Log()

    def broken(etype: str, obj: JSON, old: JSON | None) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(broken)
    inf.add_handler(log)
    await start_all([inf])
    try:
        await via_front.create(cm(ns, "x"))
        await via_front.create(cm(ns, "y"))
        await eventually(lambda: log.names("ADDED") == ["x", "y"])
        assert "handler bug" in caplog.text
    finally:
        await stop_all([inf])


async def test_owner_index_and_noise_stripping(small: RunningCluster,
                                               via_front: KubeClient) -> None:
    ns = new_namespace(small, "inf")
    owner = await via_front.create(cm(ns, "owner"))
    uid = owner["metadata"]["uid"]
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns)
    inf.add_index("owner", owner_uids)
    await start_all([inf])
    try:
        child = cm(ns, "child")
        child["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                                 "name": "owner", "uid": uid}]
        child["metadata"]["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 4000 + "}",
            "keep": "me"}
        await via_front.create(child)
        await eventually(lambda: len(inf.by_index("owner", uid)) == 1)
        cached = inf.by_index("owner", uid)[0]
        assert cached["metadata"]["annotations"] == {"keep": "me"}
        assert "managedFields" not in cached["metadata"]
        await via_front.delete(ObjectRef("v1", "ConfigMap", ns, "child"))
        await eventually(lambda: inf.by_index("owner", uid) == [])
    finally:
        await stop_all([inf])


async def test_a_kind_whose_crd_is_missing_is_skipped_then_followed(
        small: RunningCluster, via_front: KubeClient,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "canarist.kube.informer")
    ns = new_namespace(small, "inf")
    inf = Informer(via_front, "split.smi-spec.io/v1alpha4", "TrafficSplit", namespace=ns,
                   recheck=0.3)
    log = Log()
    inf.add_handler(log)
    assert await start_all([inf], within=5)
    try:
        assert inf.served is False and len(inf) == 0
        await asyncio.sleep(1.0)  # a few rechecks
        skipped = [r for r in caplog.records if "is not served" in r.getMessage()]
        assert len(skipped) == 1
        crd = yaml.safe_load((CRDS / "trafficsplit.crd.yaml").read_text())
        await via_front.create(crd)
        await eventually(lambda: inf.served is True, within=5)
        await via_front.create({
            "apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
            "metadata": {"name": "ts", "namespace": ns},
            "spec": {"service": "web", "backends": [{"service": "web", "weight": 100}]}})
        await eventually(lambda: inf.get(ns, "ts") is not None)
        # strategic merge is for built-in kinds only: 415 for a custom resource
        with pytest.raises(Invalid) as err:
            await via_front.patch(
                ObjectRef("split.smi-spec.io/v1alpha4", "TrafficSplit", ns, "ts"),
                {"spec": {"service": "x"}}, patch_type="strategic")
        assert err.value.status == 415 and err.value.reason == "UnsupportedMediaType"
    finally:
        await stop_all([inf])


async def test_stop_ends_the_watch_thread(small: RunningCluster, via_front: KubeClient) -> None:
    import threading

    ns = new_namespace(small, "inf")
    inf = Informer(via_front, "v1", "ConfigMap", namespace=ns)
    await start_all([inf])
    await eventually(lambda: any(t.name == "canarist-watch-configmap"
                                 for t in threading.enumerate()))
    before = sum(t.name == "canarist-watch-configmap" for t in threading.enumerate())
    await inf.stop()
    await eventually(lambda: sum(t.name == "canarist-watch-configmap"
                                 for t in threading.enumerate()) < before, within=3)
