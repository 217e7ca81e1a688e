"""Deployment status and conditions: ``calculateStatus``, ``syncRolloutStatus``,
``checkPausedConditions`` and the stuck-deployment requeue (progress.go, sync.go)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Condition,
    Deployment,
    DeploymentStatus,
    ReplicaSet,
)
from webhook.cluster.controllers.objects import format_time, parse_time


def calculate_status(
    d: Deployment, current: DeploymentStatus, all_rss: Sequence[ReplicaSet | None],
    new_rs: ReplicaSet | None, now: float,
) -> DeploymentStatus:
    """``calculateStatus``: counts from the ReplicaSets, conditions carried over, then the
    Available condition from ``availableReplicas >= replicas - maxUnavailable``."""
    available = util.available_replicas(all_rss)
    unavailable = max(0, util.spec_replicas(all_rss) - available)
    status = DeploymentStatus(
        observed_generation=d.generation,
        replicas=util.actual_replicas(all_rss),
        updated_replicas=util.actual_replicas([new_rs]),
        ready_replicas=util.ready_replicas(all_rss),
        available_replicas=available,
        unavailable_replicas=unavailable,
        collision_count=current.collision_count,
        conditions=current.conditions,
    )
    stamp = format_time(now)
    if available >= d.replicas - util.max_unavailable(d):
        cond = util.new_condition(util.AVAILABLE, "True", util.MIN_AVAILABLE_REASON,
                                  "Deployment has minimum availability.", stamp)
    else:
        cond = util.new_condition(util.AVAILABLE, "False", util.MIN_UNAVAILABLE_REASON,
                                  "Deployment does not have minimum availability.", stamp)
    return util.set_condition(status, cond)


def paused_condition(d: Deployment, status: DeploymentStatus, now: float) -> DeploymentStatus:
    """``checkPausedConditions``: Progressing Unknown ``DeploymentPaused``/``DeploymentResumed``;
    never overwrites ``ProgressDeadlineExceeded``; nothing without a progress deadline."""
    if not d.has_progress_deadline:
        return status
    cond = util.get_condition(status.conditions, util.PROGRESSING)
    if cond is not None and cond.reason == util.TIMED_OUT_REASON:
        return status
    paused_exists = cond is not None and cond.reason == util.PAUSED_REASON
    stamp = format_time(now)
    if d.paused and not paused_exists:
        return util.set_condition(status, util.new_condition(
            util.PROGRESSING, "Unknown", util.PAUSED_REASON, "Deployment is paused", stamp))
    if not d.paused and paused_exists:
        return util.set_condition(status, util.new_condition(
            util.PROGRESSING, "Unknown", util.RESUMED_REASON, "Deployment is resumed", stamp))
    return status


def deployment_progressing(old: DeploymentStatus, new: DeploymentStatus) -> bool:
    """``DeploymentProgressing``: more updated, fewer old, more ready or more available."""
    old_old = old.replicas - old.updated_replicas
    new_old = new.replicas - new.updated_replicas
    return (new.updated_replicas > old.updated_replicas or new_old < old_old
            or new.ready_replicas > old.ready_replicas
            or new.available_replicas > old.available_replicas)


def deployment_timed_out(d: Deployment, status: DeploymentStatus, now: float) -> bool:
    """``DeploymentTimedOut``: Progressing lastUpdateTime + deadline is before now."""
    if not d.has_progress_deadline:
        return False
    cond = util.get_condition(status.conditions, util.PROGRESSING)
    if cond is None or cond.reason == util.NEW_RS_AVAILABLE_REASON:
        return False
    if cond.reason == util.TIMED_OUT_REASON:
        return True
    since = parse_time(cond.last_update_time)
    assert d.progress_deadline_seconds is not None
    return since is not None and since + d.progress_deadline_seconds < now


def replica_failures(
    all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet | None
) -> list[Condition]:
    """``getReplicaFailures``: ReplicaFailure conditions of the new RS first, else of any RS."""
    def convert(rs: ReplicaSet) -> list[Condition]:
        return [replace(c, last_update_time=c.last_transition_time)
                for c in rs.status.conditions if c.type == util.REPLICA_FAILURE]

    if new_rs is not None and (found := convert(new_rs)):
        return found
    out: list[Condition] = []
    for rs in all_rss:
        if rs is not None:
            out.extend(convert(rs))
    return out


def _rs_message(d: Deployment, new_rs: ReplicaSet | None, what: str) -> str:
    if new_rs is not None:
        return f'ReplicaSet "{new_rs.name}" {what}'
    return f'Deployment "{d.name}" {what}'


def rollout_status(
    d: Deployment, current: DeploymentStatus, all_rss: Sequence[ReplicaSet | None],
    new_rs: ReplicaSet | None, now: float,
) -> DeploymentStatus:
    """``syncRolloutStatus`` without the write: the status after estimating progress."""
    new = calculate_status(d, current, all_rss, new_rs, now)
    if not d.has_progress_deadline:
        new = util.remove_condition(new, util.PROGRESSING)
    cur = util.get_condition(current.conditions, util.PROGRESSING)
    complete = (new.replicas == new.updated_replicas and cur is not None
                and cur.reason == util.NEW_RS_AVAILABLE_REASON)
    stamp = format_time(now)
    if d.has_progress_deadline and not complete:
        if util.deployment_complete(d, new):
            new = util.set_condition(new, util.new_condition(
                util.PROGRESSING, "True", util.NEW_RS_AVAILABLE_REASON,
                _rs_message(d, new_rs, "has successfully progressed."), stamp))
        elif deployment_progressing(current, new):
            cond = util.new_condition(util.PROGRESSING, "True", util.RS_UPDATED_REASON,
                                      _rs_message(d, new_rs, "is progressing."), stamp)
            if cur is not None:
                if cur.status == "True":
                    cond = replace(cond, last_transition_time=cur.last_transition_time)
                new = util.remove_condition(new, util.PROGRESSING)
            new = util.set_condition(new, cond)
        elif deployment_timed_out(d, new, now):
            new = util.set_condition(new, util.new_condition(
                util.PROGRESSING, "False", util.TIMED_OUT_REASON,
                _rs_message(d, new_rs, "has timed out progressing."), stamp))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        new = util.set_condition(new, failures[0])
    else:
        new = util.remove_condition(new, util.REPLICA_FAILURE)
    return new


def stuck_requeue(
    d: Deployment, current: DeploymentStatus, new: DeploymentStatus, now: float
) -> float | None:
    """``requeueStuckDeployment``: seconds until the deadline check is due (+1 s), ``0.0`` for
    a rate-limited requeue when under a second is left, ``None`` when no check is needed."""
    cur = util.get_condition(current.conditions, util.PROGRESSING)
    if not d.has_progress_deadline or cur is None:
        return None
    if util.deployment_complete(d, new) or cur.reason == util.TIMED_OUT_REASON:
        return None
    since = parse_time(cur.last_update_time)
    if since is None:
        return None
    assert d.progress_deadline_seconds is not None
    after = since + d.progress_deadline_seconds - now
    if after < 1:
        return 0.0
    return after + 1
