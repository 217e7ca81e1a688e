"""The Deployment controller loop: informer events -> work queue -> ``plan_sync`` -> API writes.

Handlers follow deployment_controller.go: a ReplicaSet event enqueues its controlling
Deployment (or, for an orphan, every Deployment of the namespace whose selector matches it); a
pod deletion enqueues a Recreate Deployment, which waits for old pods to be gone.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Deployment,
    parse_deployment,
    parse_pod_ref,
    parse_replicaset,
)
from webhook.cluster.controllers.deployment.plan import (
    Action,
    AdoptReplicaSet,
    CreateReplicaSet,
    DeleteReplicaSet,
    Event,
    Plan,
    RecordEvent,
    ReleaseReplicaSet,
    UpdateReplicaSet,
)
from webhook.cluster.controllers.deployment.sync import (
    after_create_conflict,
    after_create_error,
    plan_sync,
)
from webhook.cluster.controllers.events import EventRecorder
from webhook.cluster.controllers.informer import Informers, Obj
from webhook.cluster.controllers.objects import (
    APPS_V1,
    Key,
    controller_ref,
    key_of,
    labels_of,
    meta,
    selector_is_empty,
    selector_matches,
)
from webhook.cluster.controllers.workqueue import (
    Retry,
    WorkQueue,
    enqueue_key,
    retry_on_conflict,
    run_workers,
)
from webhook.errors import APIStatusError

DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"
USER = "system:serviceaccount:kube-system:deployment-controller"
WORKERS = 5

log = logging.getLogger(__name__)


class DeploymentController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]) -> None:
        self.api = api
        self.clock = clock
        self.deployments = informers.of(DEPLOYMENTS)
        self.replicasets = informers.of(REPLICASETS)
        self.pods = informers.of("pods")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.recorder = EventRecorder(api, "deployment-controller", clock)
        self.deployments.add_handler(enqueue_key(self.queue))
        self.replicasets.add_handler(self._on_replicaset)
        self.pods.add_handler(self._on_pod)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, WORKERS, "deployment")

    # --- event handlers ------------------------------------------------------------------------

    def _owner_of(self, obj: Obj) -> Obj | None:
        """``resolveControllerRef``: the Deployment named by the ref, if its uid matches."""
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(str(meta(obj).get("namespace") or ""), str(ref.get("name")))
        if d is None or meta(d).get("uid") != ref.get("uid"):
            return None
        return d

    def _matching(self, rs: Obj) -> list[Obj]:
        """``getDeploymentsForReplicaSet``: the namespace's Deployments whose selector matches
        the ReplicaSet's labels — a nil or empty selector matches nothing here."""
        ns = str(meta(rs).get("namespace") or "")
        labels = labels_of(rs)
        out = []
        for d in self.deployments.list(ns):
            selector = (d.get("spec") or {}).get("selector")
            if not selector_is_empty(selector) and selector_matches(selector, labels):
                out.append(d)
        return out

    def _on_replicaset(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if etype == "ADDED" and new is not None and meta(new).get("deletionTimestamp"):
            etype = "DELETED"  # ``addReplicaSet``: one already being deleted is a deletion
        if etype == "DELETED":
            owner = self._owner_of(old or new or {})
            if owner is not None:
                self.queue.add(key_of(owner))
            return
        assert new is not None
        if old is not None:
            if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
                return
            old_ref, new_ref = controller_ref(old), controller_ref(new)
            if old_ref != new_ref and old_ref is not None:
                prev = self._owner_of(old)
                if prev is not None:
                    self.queue.add(key_of(prev))
        owner = self._owner_of(new)
        if owner is not None:
            self.queue.add(key_of(owner))
            return
        if controller_ref(new) is None and (
                old is None or labels_of(old) != labels_of(new)
                or controller_ref(old) is not None):
            for d in self._matching(new):
                self.queue.add(key_of(d))

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if etype != "DELETED" or old is None:
            return
        ref = controller_ref(old)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(str(meta(old).get("namespace") or ""), str(ref.get("name")))
        if rs is None:
            return
        d = self._owner_of(rs)
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get(
                "type") == "Recreate":
            self.queue.add(key_of(d))

    # --- sync ----------------------------------------------------------------------------------

    async def sync(self, key: Key) -> None:
        ns, name = key
        raw = self.deployments.get(ns, name)
        if raw is None:
            return
        d = parse_deployment(raw)
        # Only ours and orphans can be claimed; other controllers' RSs are never touched.
        candidates = self.replicasets.controlled_by(d.uid) + self.replicasets.orphans(ns)
        rs_raw = {str(meta(r).get("name")): r for r in candidates
                  if meta(r).get("namespace", "") == ns}
        pods = []
        if d.strategy_type == "Recreate":
            pods = [parse_pod_ref(p) for p in self.pods.list(ns)
                    if selector_matches(d.selector, labels_of(p))]
        plan = plan_sync(d, [parse_replicaset(r) for r in rs_raw.values()], pods, self.clock())
        for action in plan.actions:
            await self._execute(raw, d, rs_raw, action)
        if plan.writes_deployment:
            await self._write_status(raw, plan)
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)
        if plan.retry:
            for note in plan.notes:
                log.debug("deployment %s/%s: %s", ns, name, note)
            raise Retry()

    async def _write_status(self, raw: Obj, plan: Plan) -> None:
        body = copy.deepcopy(raw)
        if plan.status is not None:
            body["status"] = plan.status.to_json()
        if plan.revision is not None:
            body.setdefault("metadata", {}).setdefault("annotations", {})[
                util.REVISION] = plan.revision
        with retry_on_conflict():
            await self.api.update(DEPLOYMENTS, _ns(raw), body, subresource="status", user=USER)

    def _event(self, raw: Obj, event: Event | None) -> None:
        if event is not None:
            self.recorder.record(raw, event.type, event.reason, event.message)

    async def _execute(self, raw: Obj, d: Deployment, rs_raw: dict[str, Obj],
                       action: Action) -> None:
        ns = _ns(raw)
        match action:
            case CreateReplicaSet():
                await self._create_rs(raw, d, action)
            case UpdateReplicaSet():
                current = rs_raw.get(action.name)
                if current is None:
                    raise Retry()
                body = copy.deepcopy(current)
                body["spec"]["replicas"] = action.replicas
                body["spec"]["minReadySeconds"] = action.min_ready_seconds
                body["metadata"]["annotations"] = dict(action.annotations)
                with retry_on_conflict():
                    # the stored copy, so a second write to this RS in the same sync (clean-up
                    # then scale-down) carries the current resourceVersion, as upstream does
                    rs_raw[action.name] = await self.api.update(REPLICASETS, ns, body, user=USER)
                self._event(raw, action.event)
            case DeleteReplicaSet():
                try:
                    await self.api.delete(REPLICASETS, ns, action.name, user=USER,
                                          preconditions={"uid": action.uid})
                except APIStatusError as exc:
                    if exc.status != 404:
                        raise
            case AdoptReplicaSet():
                fresh = await self.api.get(DEPLOYMENTS, ns, d.name)
                if meta(fresh).get("uid") != d.uid or meta(fresh).get("deletionTimestamp"):
                    raise Retry()
                ref = {"apiVersion": APPS_V1, "kind": "Deployment", "name": d.name,
                       "uid": d.uid, "controller": True, "blockOwnerDeletion": True}
                await self._patch_rs(ns, action.name,
                                     {"metadata": {"ownerReferences": [ref], "uid": action.uid}})
            case ReleaseReplicaSet():
                await self._patch_rs(ns, action.name, {"metadata": {"ownerReferences": [
                    {"$patch": "delete", "uid": d.uid}], "uid": action.uid}}, release=True)
            case RecordEvent():
                self._event(raw, action.event)

    async def _patch_rs(self, ns: str, name: str, patch: dict[str, Any], *,
                        release: bool = False) -> None:
        try:
            await self.api.patch(REPLICASETS, ns, name, patch, "strategic", user=USER)
        except APIStatusError as exc:
            if exc.status == 404 or (release and exc.status == 422):
                return
            raise

    async def _create_rs(self, raw: Obj, d: Deployment, action: CreateReplicaSet) -> None:
        ns = _ns(raw)
        try:
            await self.api.create(REPLICASETS, ns, action.manifest, user=USER)
        except APIStatusError as exc:
            if exc.reason == "AlreadyExists":
                existing = await self.api.get(REPLICASETS, ns, action.name)
                status = after_create_conflict(d, parse_replicaset(existing))
                if status is not None:
                    body = copy.deepcopy(raw)
                    body["status"] = status.to_json()
                    await self.api.update(DEPLOYMENTS, ns, body, subresource="status",
                                          user=USER)
                raise Retry() from exc
            status, event = after_create_error(d, action.name, str(exc), self.clock())
            if status is not None:
                body = copy.deepcopy(raw)
                body["status"] = status.to_json()
                with contextlib.suppress(APIStatusError):
                    await self.api.update(DEPLOYMENTS, ns, body, subresource="status",
                                          user=USER)
            self._event(raw, event)
            raise
        self._event(raw, action.event)


def _ns(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")
