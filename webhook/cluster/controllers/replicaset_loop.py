"""The ReplicaSet controller loop (replica_set.go): expectations, claim, create/delete pods,
status.

Expectations keep a ReplicaSet from acting again before the informer has seen the pods it just
created or deleted (``ControllerExpectations``; a pod with a deletionTimestamp counts as seen
deleted). Pods are created in slow-start batches (1, 2, 4, ...) and deleted in ``getPodsToDelete``
order.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import replicaset as rsc
from webhook.cluster.controllers.events import EventRecorder
from webhook.cluster.controllers.informer import Informers, Obj
from webhook.cluster.controllers.objects import (
    Key,
    controller_ref,
    controller_uid,
    is_deleting,
    is_pod_active,
    is_pod_ready,
    key_of,
    labels_of,
    meta,
    name_of,
    selector_matches,
    uid_of,
)
from webhook.cluster.controllers.workqueue import Retry, WorkQueue, retry_on_conflict, run_workers
from webhook.errors import APIStatusError

REPLICASETS = "replicasets.apps"
USER = "system:serviceaccount:kube-system:replicaset-controller"
WORKERS = 5
EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    at: float = 0.0


class Expectations:
    """``UIDTrackingControllerExpectations`` keyed by ReplicaSet."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._by_key: dict[Key, _Expectation] = {}

    def satisfied(self, key: Key) -> bool:
        exp = self._by_key.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and not exp.deletes:
            return True
        return self.clock() - exp.at > EXPECTATIONS_TIMEOUT

    def expect_creations(self, key: Key, count: int) -> None:
        self._by_key[key] = _Expectation(adds=count, at=self.clock())

    def expect_deletions(self, key: Key, pods: Sequence[str]) -> None:
        self._by_key[key] = _Expectation(deletes=set(pods), at=self.clock())

    def creation_observed(self, key: Key, count: int = 1) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.adds -= count

    def deletion_observed(self, key: Key, pod: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deletes.discard(pod)

    def forget(self, key: Key) -> None:
        self._by_key.pop(key, None)


class ReplicaSetController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]) -> None:
        self.api = api
        self.clock = clock
        self.replicasets = informers.of(REPLICASETS)
        self.pods = informers.of("pods")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.expectations = Expectations(clock)
        self.recorder = EventRecorder(api, "replicaset-controller", clock)
        self.replicasets.add_handler(self._on_replicaset)
        self.pods.add_handler(self._on_pod)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, WORKERS, "replicaset")

    # --- event handlers ------------------------------------------------------------------------

    def _on_replicaset(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is None:
            return
        if etype == "DELETED":
            self.expectations.forget(key_of(obj))
        self.queue.add(key_of(obj))

    def _resolve(self, pod: Obj) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        rs = self.replicasets.get(str(meta(pod).get("namespace") or ""), str(ref.get("name")))
        if rs is None or meta(rs).get("uid") != ref.get("uid"):
            return None
        return rs

    def _matching(self, pod: Obj) -> list[Obj]:
        ns = str(meta(pod).get("namespace") or "")
        labels = labels_of(pod)
        return [rs for rs in self.replicasets.list(ns)
                if selector_matches((rs.get("spec") or {}).get("selector"), labels)]

    def _pod_gone(self, pod: Obj) -> None:
        rs = self._resolve(pod)
        if rs is not None:
            self.expectations.deletion_observed(key_of(rs), pod_key(pod))
            self.queue.add(key_of(rs))

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if etype == "DELETED":
            if old is not None:
                self._pod_gone(old)
            return
        assert new is not None
        if etype == "ADDED" or old is None:
            if is_deleting(new):
                self._pod_gone(new)
                return
            rs = self._resolve(new)
            if rs is not None:
                self.expectations.creation_observed(key_of(rs))
                self.queue.add(key_of(rs))
                return
            for match in self._matching(new):
                self.queue.add(key_of(match))
            return
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        labels_changed = labels_of(old) != labels_of(new)
        if is_deleting(new):
            self._pod_gone(new)
            if labels_changed:
                self._pod_gone(old)
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref != new_ref and old_ref is not None:
            prev = self._resolve(old)
            if prev is not None:
                self.queue.add(key_of(prev))
        if new_ref is not None:
            rs = self._resolve(new)
            if rs is None:
                return
            self.queue.add(key_of(rs))
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                self.queue.add_after(key_of(rs), min_ready + 1.0)
            return
        if labels_changed or old_ref != new_ref:
            for match in self._matching(new):
                self.queue.add(key_of(match))

    # --- sync ----------------------------------------------------------------------------------

    async def sync(self, key: Key) -> None:
        ns, name = key
        raw = self.replicasets.get(ns, name)
        if raw is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        uid = str(meta(raw).get("uid") or "")
        # Only ours and orphans can be claimed (an index, not a scan of the namespace).
        active = [p for p in self.pods.controlled_by(uid) + self.pods.orphans(ns)
                  if is_pod_active(p) and meta(p).get("namespace", "") == ns]
        owned = await self._claim(raw, active)
        error: str | None = None
        if needs_sync and not is_deleting(raw):
            error = await self._manage(key, raw, owned)
        status = rsc.calculate_status(raw, owned, error, self.clock())
        if rsc.status_needs_update(raw, status):
            body = copy.deepcopy(raw)
            body["status"] = status
            with retry_on_conflict():
                await self.api.update(REPLICASETS, ns, body, subresource="status", user=USER)
        if error is not None:
            raise Retry()
        after = rsc.min_ready_requeue(raw, status)
        if after is not None:
            self.queue.add_after(key, after)

    async def _claim(self, rs: Obj, active: list[Obj]) -> list[Mapping[str, Any]]:
        claim = rsc.claim_pods(rs, active)
        owned = list(claim.owned)
        ns = str(meta(rs).get("namespace") or "")
        if claim.adopt:
            await recheck_owner(self.api, REPLICASETS, ns, rs)
        for pod_name in claim.adopt:
            pod = next(p for p in owned if name_of(p) == pod_name)
            try:
                await self.api.patch("pods", ns, pod_name,
                                     rsc.adopt_patch(rs, str(meta(pod).get("uid"))),
                                     "strategic", user=USER)
            except APIStatusError as exc:
                if exc.status != 404:
                    raise
                owned.remove(pod)
        await release_pods(self.api, ns, rs, active, claim.release, USER)
        return owned

    async def _manage(self, key: Key, rs: Obj, owned: list[Mapping[str, Any]]) -> str | None:
        diff = rsc.replicas_diff(rs, len(owned))
        if diff > 0:
            return await self._create(key, rs, diff)
        if diff < 0:
            return await self._delete(key, rs, owned, -diff)
        return None

    async def _create(self, key: Key, rs: Obj, count: int) -> str | None:
        self.expectations.expect_creations(key, count)
        ns = key[0]
        created = 0
        for batch in rsc.slow_start_batches(count):
            results = await asyncio.gather(
                *(self.api.create("pods", ns, rsc.pod_from_template(rs), user=USER)
                  for _ in range(batch)), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if isinstance(result, dict):
                    self.recorder.record(rs, "Normal", "SuccessfulCreate",
                                         f"Created pod: {name_of(result)}")
            created += batch
            if failures:
                self.expectations.creation_observed(key, len(failures) + count - created)
                message = str(failures[0])
                self.recorder.record(rs, "Warning", "FailedCreate", f"Error creating: {message}")
                return message
        return None

    async def _delete(self, key: Key, rs: Obj, owned: list[Mapping[str, Any]], count: int
                      ) -> str | None:
        ns = key[0]
        family = controller_uid(rs)
        siblings = {str(meta(r).get("uid")) for r in self.replicasets.list(ns)
                    if family is not None and controller_uid(r) == family} or {
            str(meta(rs).get("uid"))}
        related = [p for p in self.pods.list(ns) if controller_uid(p) in siblings]
        victims = rsc.pods_to_delete(owned, related, count, self.clock())
        self.expectations.expect_deletions(key, [pod_key(p) for p in victims])

        async def delete(pod: Mapping[str, Any]) -> str | None:
            try:
                await self.api.delete("pods", ns, name_of(pod), user=USER)
            except APIStatusError as exc:
                self.expectations.deletion_observed(key, pod_key(pod))
                if exc.status == 404:
                    return None
                self.recorder.record(rs, "Warning", "FailedDelete", f"Error deleting: {exc}")
                return str(exc)
            self.recorder.record(rs, "Normal", "SuccessfulDelete",
                                 f"Deleted pod: {name_of(pod)}")
            return None

        errors = [e for e in await asyncio.gather(*(delete(p) for p in victims)) if e]
        return errors[0] if errors else None


def pod_key(pod: Mapping[str, Any]) -> str:
    """A pod's ``namespace/name``, as the expectations track deletions."""
    md = meta(pod)
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


async def recheck_owner(api: ClusterAPI, resource: str, ns: str, owner: Mapping[str, Any]
                        ) -> None:
    """Before adopting pods (``RecheckDeletionTimestamp``): the owner read again from the API
    server must be the same object and not being deleted, else ``Retry``."""
    fresh = await api.get(resource, ns, name_of(owner))
    if uid_of(fresh) != uid_of(owner) or is_deleting(fresh):
        raise Retry()


async def release_pods(api: ClusterAPI, ns: str, owner: Mapping[str, Any],
                       pods: Sequence[Mapping[str, Any]], names: Iterable[str], user: str
                       ) -> None:
    """``ReleasePod`` for each of ``names`` (among ``pods``): drop ``owner``'s controller
    reference; a pod gone (404) or no longer ``owner``'s (422, the uid precondition) is left."""
    for pod_name in names:
        pod = next(p for p in pods if name_of(p) == pod_name)
        try:
            await api.patch("pods", ns, pod_name, rsc.release_patch(uid_of(owner), uid_of(pod)),
                            "strategic", user=user)
        except APIStatusError as exc:
            if exc.status not in (404, 422):
                raise
