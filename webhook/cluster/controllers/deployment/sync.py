"""One sync of a Deployment (deployment_controller.go ``syncDeployment``), as a pure planner.

``plan_sync(deployment, replicasets_in_namespace, pods, now)`` returns the ``Plan`` upstream
would carry out: adopt/release ReplicaSets, find or create the new ReplicaSet (never while
paused), scale (proportionally on scaling events and while paused), roll (RollingUpdate or
Recreate), clean up history, and compute status and conditions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from webhook.cluster.controllers.deployment import progress, rolling, util
from webhook.cluster.controllers.deployment.model import (
    Deployment,
    DeploymentStatus,
    PodRef,
    ReplicaSet,
)
from webhook.cluster.controllers.deployment.plan import (
    AdoptReplicaSet,
    CreateReplicaSet,
    DeleteReplicaSet,
    Event,
    Plan,
    ReleaseReplicaSet,
)
from webhook.cluster.controllers.deployment.scale import scale
from webhook.cluster.controllers.deployment.work import Work
from webhook.cluster.controllers.hashing import (
    POD_TEMPLATE_HASH_LABEL,
    compute_hash,
    equal_ignore_hash,
)
from webhook.cluster.controllers.objects import (
    APPS_V1,
    format_time,
    selector_is_empty,
    selector_matches,
)


def plan_sync(
    d: Deployment, replicasets: Sequence[ReplicaSet], pods: Sequence[PodRef], now: float
) -> Plan:
    """``syncDeployment``: ``replicasets`` are all RSs of the namespace, ``pods`` the pods
    selected by the Deployment (only Recreate looks at them)."""
    w = _Sync(d, now)
    if selector_is_empty(d.selector):
        w.event("Warning", "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.")
        if d.status.observed_generation < d.generation:
            w.status = replace(w.status, observed_generation=d.generation)
        return w.finish()
    owned = claim_replicasets(w, replicasets)
    if d.deleting:
        new_rs, olds = w.get_all(owned, create=False)
        return w.finish(progress.calculate_status(d, w.status, [*olds, new_rs], new_rs, now))
    w.status = progress.paused_condition(d, w.status, now)
    if d.paused or is_scaling_event(w, owned):
        return sync_scale(w, owned)
    if d.strategy_type == "Recreate":
        return rollout_recreate(w, owned, pods)
    return rollout_rolling(w, owned)


# --- ownership ---------------------------------------------------------------------------------


def claim_replicasets(w: Work, replicasets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    """``ClaimReplicaSets`` (``ClaimObject`` for each ReplicaSet of the namespace):

    - controlled by another: ignored, never touched;
    - controlled by us: kept while the selector matches its labels (also while we are being
      deleted); released when it does not, unless we are being deleted;
    - an orphan: adopted when the selector matches its labels, we are not being deleted, it is
      not being deleted and it is in our namespace (the adoption itself first re-reads us,
      uncached, and gives up if we are gone, replaced or being deleted).
    """
    d = w.d
    owned: list[ReplicaSet] = []
    for rs in replicasets:
        matches = selector_matches(d.selector, rs.labels)
        if rs.controller_uid is not None:
            if rs.controller_uid != d.uid:
                continue
            if matches:
                owned.append(rs)
            elif not d.deleting:
                w.actions.append(ReleaseReplicaSet(rs.name, rs.uid))
            continue
        if d.deleting or not matches or rs.deleting:
            continue
        if d.namespace and rs.namespace and rs.namespace != d.namespace:
            continue
        w.actions.append(AdoptReplicaSet(rs.name, rs.uid))
        owned.append(replace(rs, controller_uid=d.uid))
    return owned


def find_new_rs(d: Deployment, owned: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """``FindNewReplicaSet``: the oldest owned RS (creationTimestamp, then name) whose template
    equals ours with ``pod-template-hash`` ignored (``EqualIgnoreHash``) — an adopted one
    included, one being deleted included."""
    for rs in util.by_creation(owned):
        if equal_ignore_hash(rs.template, d.template):
            return rs
    return None


# --- the new ReplicaSet ------------------------------------------------------------------------


class _Sync(Work):
    """``Work`` plus the memo of ``getAllReplicaSetsAndSyncRevision`` within one sync."""

    def __init__(self, d: Deployment, now: float) -> None:
        super().__init__(d, now)
        self._found: tuple[ReplicaSet | None, list[ReplicaSet]] | None = None

    def current_revision(self) -> str | None:
        return self.revision if self.revision is not None else self.d.annotations.get(
            util.REVISION)

    def set_revision(self, revision: str) -> None:
        if self.current_revision() != revision:
            self.revision = revision

    def get_all(self, owned: Sequence[ReplicaSet], *, create: bool
                ) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """``getAllReplicaSetsAndSyncRevision``: (new RS or None, old RSs)."""
        if self._found is not None and (self._found[0] is not None or not create):
            return self._found
        existing = find_new_rs(self.d, owned)
        olds = [rs for rs in owned if existing is None or rs.name != existing.name]
        new_revision = util.max_revision(olds) + 1
        if existing is not None:
            new_rs: ReplicaSet | None = self._sync_existing(existing, new_revision)
        elif create:
            new_rs = self._create(olds, new_revision)
        else:
            new_rs = None
        self._found = (new_rs, olds)
        return self._found

    def _sync_existing(self, rs: ReplicaSet, new_revision: int) -> ReplicaSet:
        d = self.d
        ann, changed = util.new_rs_annotations(d, rs.annotations, new_revision, exists=True)
        if changed or rs.min_ready_seconds != d.min_ready_seconds:
            return self.update_rs(rs, replicas=rs.replicas, annotations=ann,
                                  min_ready_seconds=d.min_ready_seconds)
        self.set_revision(rs.annotations.get(util.REVISION, ""))
        if d.has_progress_deadline and util.get_condition(
                self.status.conditions, util.PROGRESSING) is None:
            self.status = util.set_condition(self.status, util.new_condition(
                util.PROGRESSING, "True", util.FOUND_NEW_RS_REASON,
                f'Found new replica set "{rs.name}"', format_time(self.now)))
        return rs

    def _create(self, olds: list[ReplicaSet], new_revision: int) -> ReplicaSet:
        d = self.d
        pod_hash = compute_hash(d.template, d.status.collision_count)
        template = copy.deepcopy(dict(d.template))
        tmeta = dict(template.get("metadata") or {})
        labels = {**(tmeta.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
        tmeta["labels"] = labels
        template["metadata"] = tmeta
        name = f"{d.name}-{pod_hash}"
        draft = ReplicaSet(name=name, uid="", created=format_time(self.now), replicas=0,
                           template=template, labels=dict(labels),
                           min_ready_seconds=d.min_ready_seconds, controller_uid=d.uid)
        replicas = rolling.new_rs_new_replicas(d, [*olds, draft], draft)
        ann, _ = util.new_rs_annotations(d, {}, new_revision, exists=False)
        event = None
        if replicas > 0:
            event = Event("Normal", "ScalingReplicaSet",
                          f"Scaled up replica set {name} from 0 to {replicas}")
        self.actions.append(CreateReplicaSet(name, _rs_manifest(d, draft, replicas, ann), event))
        self.set_revision(str(new_revision))
        if d.has_progress_deadline:
            self.status = util.set_condition(self.status, util.new_condition(
                util.PROGRESSING, "True", util.NEW_RS_CREATED_REASON,
                f'Created new replica set "{name}"', format_time(self.now)))
        return replace(draft, replicas=replicas, annotations=ann)


def _rs_manifest(d: Deployment, draft: ReplicaSet, replicas: int,
                 annotations: dict[str, str]) -> dict[str, Any]:
    selector = copy.deepcopy(dict(d.selector or {}))
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}),
                               POD_TEMPLATE_HASH_LABEL: draft.labels[POD_TEMPLATE_HASH_LABEL]}
    owner = {"apiVersion": APPS_V1, "kind": "Deployment", "name": d.name, "uid": d.uid,
             "controller": True, "blockOwnerDeletion": True}
    return {
        "apiVersion": APPS_V1,
        "kind": "ReplicaSet",
        "metadata": {"name": draft.name, "namespace": d.namespace, "labels": dict(draft.labels),
                     "annotations": annotations, "ownerReferences": [owner]},
        "spec": {"replicas": replicas, "minReadySeconds": d.min_ready_seconds,
                 "selector": selector, "template": draft.template},
    }


# --- the strategies ----------------------------------------------------------------------------


def is_scaling_event(w: _Sync, owned: Sequence[ReplicaSet]) -> bool:
    """``isScalingEvent``: an active RS whose desired-replicas annotation differs from
    ``spec.replicas``."""
    new_rs, olds = w.get_all(owned, create=False)
    for rs in util.active([*olds, new_rs]):
        raw = rs.annotations.get(util.DESIRED_REPLICAS)
        try:
            desired = int(raw) if raw is not None else None
        except ValueError:
            desired = None
        if desired is not None and desired != w.d.replicas:
            return True
    return False


def sync_scale(w: _Sync, owned: Sequence[ReplicaSet]) -> Plan:
    """``sync``: scaling events and paused Deployments — scale, no new RS, no rollout."""
    new_rs, olds = w.get_all(owned, create=False)
    scale(w, new_rs, olds)
    if w.d.paused:
        cleanup_history(w, olds)
    return w.finish(progress.calculate_status(w.d, w.status, [*olds, new_rs], new_rs, w.now))


def _finish_rollout(w: _Sync, all_rss: Sequence[ReplicaSet | None],
                    new_rs: ReplicaSet | None) -> Plan:
    """``syncRolloutStatus``, with the stuck-deployment requeue when nothing changed."""
    new_status = progress.rollout_status(w.d, w.status, all_rss, new_rs, w.now)
    if new_status == w.status:
        after = progress.stuck_requeue(w.d, w.status, new_status, w.now)
        if after == 0.0:
            w.retry = True
        elif after is not None:
            w.requeue_after = after
    return w.finish(new_status)


def rollout_rolling(w: _Sync, owned: Sequence[ReplicaSet]) -> Plan:
    """``rolloutRolling``."""
    new_rs, olds = w.get_all(owned, create=True)
    assert new_rs is not None
    all_rss = [*olds, new_rs]
    if rolling.reconcile_new(w, all_rss, new_rs):
        return _finish_rollout(w, all_rss, new_rs)
    scaled_old = rolling.reconcile_old(w, all_rss, util.active(olds), new_rs)
    if w.error is not None:
        return w.finish()  # upstream returns the error before syncRolloutStatus
    if scaled_old:
        return _finish_rollout(w, all_rss, new_rs)
    if util.deployment_complete(w.d, w.d.status):
        cleanup_history(w, olds)
    return _finish_rollout(w, all_rss, new_rs)


def rollout_recreate(w: _Sync, owned: Sequence[ReplicaSet], pods: Sequence[PodRef]) -> Plan:
    """``rolloutRecreate``: old RSs to 0, wait for their pods to be gone, then the new RS."""
    new_rs, olds = w.get_all(owned, create=False)
    all_rss: list[ReplicaSet | None] = [*olds, new_rs]
    if rolling.scale_down_old_for_recreate(w, util.active(olds)):
        return _finish_rollout(w, all_rss, new_rs)
    if rolling.old_pods_running(new_rs, olds, pods, {rs.uid for rs in owned}):
        return _finish_rollout(w, all_rss, new_rs)
    if new_rs is None:
        new_rs, olds = w.get_all(owned, create=True)
        assert new_rs is not None
        all_rss = [*olds, new_rs]
    w.scale_and_record(new_rs, w.d.replicas)
    if util.deployment_complete(w.d, w.d.status):
        cleanup_history(w, olds)
    return _finish_rollout(w, all_rss, new_rs)


def cleanup_history(w: Work, olds: Sequence[ReplicaSet]) -> None:
    """``cleanupDeployment``: delete the oldest old RSs beyond revisionHistoryLimit, skipping
    any that still has replicas or an unobserved generation."""
    d = w.d
    if not d.has_revision_history_limit:
        return
    assert d.revision_history_limit is not None
    alive = [rs for rs in olds if not rs.deleting]
    diff = len(alive) - d.revision_history_limit
    if diff <= 0:
        return
    for rs in util.by_revision(alive)[:diff]:
        if (rs.status.replicas != 0 or rs.replicas != 0
                or rs.generation > rs.status.observed_generation or rs.deleting):
            continue
        w.actions.append(DeleteReplicaSet(rs.name, rs.uid))


# --- create failures ---------------------------------------------------------------------------


def after_create_conflict(d: Deployment, existing: ReplicaSet) -> DeploymentStatus | None:
    """Create returned AlreadyExists. ``None`` when the existing RS is ours with our template
    (the next sync uses it); otherwise a hash collision: the status with collisionCount + 1."""
    if existing.controller_uid == d.uid and equal_ignore_hash(existing.template, d.template):
        return None
    return replace(d.status, collision_count=(d.status.collision_count or 0) + 1)


def after_create_error(d: Deployment, rs_name: str, error: str, now: float
                       ) -> tuple[DeploymentStatus | None, Event]:
    """Any other create failure: Progressing False ``ReplicaSetCreateError`` (with a deadline)
    and a warning event."""
    msg = f'Failed to create new replica set "{rs_name}": {error}'
    status = None
    if d.has_progress_deadline:
        status = util.set_condition(d.status, util.new_condition(
            util.PROGRESSING, "False", util.FAILED_RS_CREATE_REASON, msg, format_time(now)))
    return status, Event("Warning", util.FAILED_RS_CREATE_REASON, msg)
