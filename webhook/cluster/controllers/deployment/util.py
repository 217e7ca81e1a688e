"""``pkg/controller/deployment/util`` and the sort orders of ``pkg/controller``, as pure functions.

Fenceposts (maxSurge/maxUnavailable), revisions and the replica annotations on ReplicaSets,
condition bookkeeping and the ReplicaSet orderings the controller relies on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from webhook.cluster.controllers.deployment.model import (
    Condition,
    Deployment,
    DeploymentStatus,
    IntOrPercent,
    ReplicaSet,
)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
MAX_REV_HISTORY_CHARS = 2000

ANNOTATIONS_TO_SKIP = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
     DEPRECATED_ROLLBACK_TO}
)

# Condition types and reasons (deploymentutil).
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"
NEW_RS_CREATED_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"


# --- fenceposts --------------------------------------------------------------------------------


def scaled_value(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: ints as is, ``"N%"`` of ``total``."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: {value!r} is not a percentage")
    pct = int(text[:-1])
    scaled = pct * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(d: Deployment) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounds up, unavailable down; both 0 -> unavailable 1."""
    surge = scaled_value(d.max_surge, d.replicas, round_up=True)
    unavailable = scaled_value(d.max_unavailable, d.replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Deployment) -> int:
    return resolve_fenceposts(d)[0] if d.is_rolling else 0


def max_unavailable(d: Deployment) -> int:
    """``MaxUnavailable``: 0 for Recreate or zero replicas, capped at ``spec.replicas``."""
    if not d.is_rolling or d.replicas == 0:
        return 0
    return min(resolve_fenceposts(d)[1], d.replicas)


# --- counting ----------------------------------------------------------------------------------


def spec_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    """``GetReplicaCountForReplicaSets``: Σ spec.replicas."""
    return sum(rs.replicas for rs in rss if rs is not None)


def actual_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    """``GetActualReplicaCountForReplicaSets``: Σ status.replicas."""
    return sum(rs.status.replicas for rs in rss if rs is not None)


def ready_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.ready_replicas for rs in rss if rs is not None)


def available_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.available_replicas for rs in rss if rs is not None)


def active(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    """``FilterActiveReplicaSets``: non-nil with spec.replicas > 0."""
    return [rs for rs in rss if rs is not None and rs.replicas > 0]


# --- orderings ---------------------------------------------------------------------------------


def _created_less(a: ReplicaSet, b: ReplicaSet) -> bool:
    if a.created == b.created:
        return a.name < b.name
    return a.created < b.created


def _sorted(rss: Iterable[ReplicaSet], less: Callable[[ReplicaSet, ReplicaSet], bool]
            ) -> list[ReplicaSet]:
    def cmp(a: ReplicaSet, b: ReplicaSet) -> int:
        return -1 if less(a, b) else (1 if less(b, a) else 0)

    return sorted(rss, key=functools.cmp_to_key(cmp))


def by_creation(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """``ReplicaSetsByCreationTimestamp``: oldest first, ties by name."""
    return _sorted(rss, _created_less)


def by_size_newer(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """``ReplicaSetsBySizeNewer``: larger first, ties newest first."""
    def less(a: ReplicaSet, b: ReplicaSet) -> bool:
        if a.replicas == b.replicas:
            return _created_less(b, a)
        return a.replicas > b.replicas
    return _sorted(rss, less)


def by_size_older(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """``ReplicaSetsBySizeOlder``: larger first, ties oldest first."""
    def less(a: ReplicaSet, b: ReplicaSet) -> bool:
        if a.replicas == b.replicas:
            return _created_less(a, b)
        return a.replicas > b.replicas
    return _sorted(rss, less)


def by_revision(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """``ReplicaSetsByRevision``: ascending revision; equal or unparsable by creation."""
    def less(a: ReplicaSet, b: ReplicaSet) -> bool:
        ra, rb = revision_of(a), revision_of(b)
        if ra is None or rb is None or ra == rb:
            return _created_less(a, b)
        return ra < rb
    return _sorted(rss, less)


# --- revisions and annotations -----------------------------------------------------------------


def revision_of(rs: ReplicaSet) -> int | None:
    """``Revision``: 0 when absent, ``None`` when unparsable."""
    raw = rs.annotations.get(REVISION)
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return None


def max_revision(rss: Iterable[ReplicaSet]) -> int:
    """``MaxRevision``: unparsable revisions are skipped."""
    best = 0
    for rs in rss:
        rev = revision_of(rs)
        if rev is not None and rev > best:
            best = rev
    return best


def copy_deployment_annotations(d: Deployment, ann: dict[str, str]) -> bool:
    """``copyDeploymentAnnotationsToReplicaSet``: copy (never delete) all but the skipped."""
    changed = False
    for key, value in d.annotations.items():
        if key in ANNOTATIONS_TO_SKIP or ann.get(key) == value:
            continue
        ann[key] = value
        changed = True
    return changed


def set_replicas_annotations(ann: dict[str, str], desired: int, maximum: int) -> bool:
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: ReplicaSet, desired: int, maximum: int) -> bool:
    return (rs.annotations.get(DESIRED_REPLICAS) != str(desired)
            or rs.annotations.get(MAX_REPLICAS) != str(maximum))


def new_rs_annotations(
    d: Deployment, current: Mapping[str, str], new_revision: int, *, exists: bool
) -> tuple[dict[str, str], bool]:
    """``SetNewReplicaSetAnnotations``: copied annotations, revision, revision history and,
    for a replica set about to be created, the replica annotations. Returns (annotations, changed).
    """
    ann = dict(current)
    changed = copy_deployment_annotations(d, ann)
    old_raw = ann.get(REVISION)
    had_revision = old_raw is not None
    if old_raw is None or old_raw == "":
        old_rev = 0
    else:
        try:
            old_rev = int(old_raw)
        except ValueError:
            return ann, False
    if old_rev < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if had_revision:
            _append_revision_history(ann, old_raw or "")
    if not exists and set_replicas_annotations(ann, d.replicas, d.replicas + max_surge(d)):
        changed = True
    return ann, changed


def _append_revision_history(ann: dict[str, str], old_revision: str) -> None:
    history = ann.get(REVISION_HISTORY, "")
    olds = history.split(",")
    if not olds[0]:
        ann[REVISION_HISTORY] = old_revision
        return
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > MAX_REV_HISTORY_CHARS and start < len(olds):
        total -= len(olds[start]) + 1
        start += 1
    if total <= MAX_REV_HISTORY_CHARS:
        ann[REVISION_HISTORY] = ",".join([*olds[start:], old_revision])


# --- conditions --------------------------------------------------------------------------------


def get_condition(conds: Sequence[Condition], ctype: str) -> Condition | None:
    for c in conds:
        if c.type == ctype:
            return c
    return None


def new_condition(ctype: str, status: str, reason: str, message: str, now: str) -> Condition:
    return Condition(ctype, status, reason, message, last_update_time=now,
                     last_transition_time=now)


def set_condition(status: DeploymentStatus, cond: Condition) -> DeploymentStatus:
    """``SetDeploymentCondition``: same status+reason is a no-op; same status keeps the
    transition time; the new condition goes to the end of the list."""
    current = get_condition(status.conditions, cond.type)
    if current is not None and current.status == cond.status and current.reason == cond.reason:
        return status
    if current is not None and current.status == cond.status:
        cond = replace(cond, last_transition_time=current.last_transition_time)
    kept = tuple(c for c in status.conditions if c.type != cond.type)
    return replace(status, conditions=(*kept, cond))


def remove_condition(status: DeploymentStatus, ctype: str) -> DeploymentStatus:
    return replace(status, conditions=tuple(c for c in status.conditions if c.type != ctype))


def deployment_complete(d: Deployment, status: DeploymentStatus) -> bool:
    """``DeploymentComplete``: every replica updated and available, generation observed."""
    return (status.updated_replicas == d.replicas and status.replicas == d.replicas
            and status.available_replicas == d.replicas
            and status.observed_generation >= d.generation)
