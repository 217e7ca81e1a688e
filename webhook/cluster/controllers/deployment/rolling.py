"""RollingUpdate and Recreate steps (rolling.go, recreate.go) over a ``Work``."""

from __future__ import annotations

from collections.abc import Sequence

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import Deployment, PodRef, ReplicaSet
from webhook.cluster.controllers.deployment.work import Work


def new_rs_new_replicas(
    d: Deployment, all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet
) -> int:
    """``NewRSNewReplicas``: RollingUpdate adds up to maxTotal = replicas + maxSurge pods;
    Recreate goes straight to ``spec.replicas``."""
    if not d.is_rolling:
        return d.replicas
    max_total = d.replicas + util.max_surge(d)
    current = util.spec_replicas(all_rss)
    if current >= max_total:
        return new_rs.replicas
    scale_up = min(max_total - current, d.replicas - new_rs.replicas)
    return new_rs.replicas + scale_up


def reconcile_new(w: Work, all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet) -> bool:
    """``reconcileNewReplicaSet``: scale the new RS toward ``spec.replicas`` within surge."""
    d = w.d
    if new_rs.replicas == d.replicas:
        return False
    if new_rs.replicas > d.replicas:
        scaled, _ = w.scale_and_record(new_rs, d.replicas)
        return scaled
    scaled, _ = w.scale_and_record(new_rs, new_rs_new_replicas(d, all_rss, new_rs))
    return scaled


def reconcile_old(
    w: Work, all_rss: Sequence[ReplicaSet], old_rss: Sequence[ReplicaSet], new_rs: ReplicaSet
) -> bool:
    """``reconcileOldReplicaSets``: scale old RSs down as far as maxUnavailable allows,
    unhealthy replicas first."""
    d = w.d
    if util.spec_replicas(old_rss) == 0:
        return False
    all_pods = util.spec_replicas(all_rss)
    min_available = d.replicas - util.max_unavailable(d)
    new_unavailable = new_rs.replicas - new_rs.status.available_replicas
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    olds, cleaned = cleanup_unhealthy(w, old_rss, max_scaled_down)
    if w.error is not None:
        return False
    scaled_down = scale_down_old_for_rolling(w, [*olds, new_rs], olds)
    return cleaned + scaled_down > 0


def cleanup_unhealthy(
    w: Work, old_rss: Sequence[ReplicaSet], max_cleanup: int
) -> tuple[list[ReplicaSet], int]:
    """``cleanupUnhealthyReplicas``: oldest first, remove unavailable replicas of old RSs."""
    olds = util.by_creation(old_rss)
    total = 0
    for i, rs in enumerate(olds):
        if total >= max_cleanup:
            break
        if rs.replicas in (0, rs.status.available_replicas):
            continue
        count = min(max_cleanup - total, rs.replicas - rs.status.available_replicas)
        if count < 0:
            # The RS was just scaled down and its status still counts the pods the ReplicaSet
            # controller has not deleted yet: a "scale down" by a negative count would raise
            # spec.replicas past maxSurge. Upstream refuses it and fails the sync.
            d = w.d
            w.fail(f"when cleaning up unhealthy replicas, got invalid request to scale down "
                   f"{d.namespace}/{rs.name} {rs.replicas} -> {rs.replicas - count}")
            return olds, total
        _, olds[i] = w.scale_and_record(rs, rs.replicas - count)
        total += count
    return olds, total


def scale_down_old_for_rolling(
    w: Work, all_rss: Sequence[ReplicaSet], old_rss: Sequence[ReplicaSet]
) -> int:
    """``scaleDownOldReplicaSetsForRollingUpdate``: keep ``replicas - maxUnavailable``
    available; scale old RSs down (oldest first) by what is available beyond that."""
    d = w.d
    min_available = d.replicas - util.max_unavailable(d)
    available = util.available_replicas(all_rss)
    if available <= min_available:
        return 0
    budget = available - min_available
    total = 0
    for rs in util.by_creation(old_rss):
        if total >= budget:
            break
        if rs.replicas == 0:
            continue
        count = min(rs.replicas, budget - total)
        w.scale_and_record(rs, rs.replicas - count)
        total += count
    return total


def scale_down_old_for_recreate(w: Work, old_rss: Sequence[ReplicaSet]) -> bool:
    """``scaleDownOldReplicaSetsForRecreate``: every active old RS to 0."""
    scaled_any = False
    for rs in old_rss:
        if rs.replicas == 0:
            continue
        scaled, _ = w.scale_and_record(rs, 0)
        scaled_any = scaled_any or scaled
    return scaled_any


def old_pods_running(
    new_rs: ReplicaSet | None, old_rss: Sequence[ReplicaSet], pods: Sequence[PodRef],
    owned_uids: set[str],
) -> bool:
    """``oldPodsRunning``: old RSs still report replicas, or a pod of an owned RS other than
    the new one is not Succeeded/Failed (terminating pods count: Recreate waits for them)."""
    if util.actual_replicas(old_rss) > 0:
        return True
    new_uid = new_rs.uid if new_rs is not None else None
    for pod in pods:
        if pod.owner_uid is None or pod.owner_uid not in owned_uids or pod.owner_uid == new_uid:
            continue
        if pod.phase not in ("Succeeded", "Failed"):
            return True
    return False
