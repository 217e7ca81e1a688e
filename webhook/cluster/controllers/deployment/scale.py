"""Scaling events and proportional scaling (sync.go ``scale``), also used while paused."""

from __future__ import annotations

from collections.abc import Sequence

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import Deployment, ReplicaSet
from webhook.cluster.controllers.deployment.work import Work


def find_active_or_latest(
    new_rs: ReplicaSet | None, old_rss: Sequence[ReplicaSet]
) -> ReplicaSet | None:
    """``FindActiveOrLatest``: the only active RS; with none active the new RS, else the newest
    old one; ``None`` when several are active."""
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(util.by_creation(old_rss)))
    candidates = util.active([*newest_first, new_rs])
    if not candidates:
        return new_rs if new_rs is not None else newest_first[0]
    if len(candidates) == 1:
        return candidates[0]
    return None


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    """``IsSaturated``: the new RS has all replicas, by spec, annotation and availability."""
    if rs is None:
        return False
    try:
        desired = int(rs.annotations.get(util.DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    return (rs.replicas == d.replicas and desired == d.replicas
            and rs.status.available_replicas == d.replicas)


def round_half_away(value: float) -> int:
    """``integer.RoundToInt32``."""
    return int(value - 0.5) if value < 0 else int(value + 0.5)


def rs_fraction(rs: ReplicaSet, d: Deployment) -> int:
    """``getReplicaSetFraction``: how many replicas this RS gains/loses proportionally."""
    if d.replicas == 0:
        return -rs.replicas
    allowed = d.replicas + util.max_surge(d)
    try:
        before = int(rs.annotations.get(util.MAX_REPLICAS, ""))
    except ValueError:
        before = 0
    if before == 0:
        before = d.status.replicas
        if before == 0:
            return 0
    return round_half_away(rs.replicas * allowed / before) - rs.replicas


def proportion(rs: ReplicaSet, d: Deployment, to_add: int, added: int) -> int:
    """``GetProportion``: the fraction, capped by what is left to add (or to remove)."""
    if rs.replicas == 0 or to_add in (0, added):
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(
    d: Deployment, rss: Sequence[ReplicaSet]
) -> tuple[list[tuple[ReplicaSet, int]], str]:
    """New sizes for the active RSs of a RollingUpdate Deployment (in the order upstream
    writes them), and the operation name."""
    actives = util.active(rss)
    allowed = d.replicas + util.max_surge(d) if d.replicas > 0 else 0
    to_add = allowed - util.spec_replicas(actives)
    operation = ""
    if to_add > 0:
        actives = util.by_size_newer(actives)
        operation = "up"
    elif to_add < 0:
        actives = util.by_size_older(actives)
        operation = "down"
    sizes: dict[str, int] = {}
    added = 0
    for rs in actives:
        if to_add != 0:
            share = proportion(rs, d, to_add, added)
            sizes[rs.name] = rs.replicas + share
            added += share
        else:
            sizes[rs.name] = rs.replicas
    if to_add != 0 and actives:
        first = actives[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return [(rs, sizes[rs.name]) for rs in actives], operation


def scale(w: Work, new_rs: ReplicaSet | None, old_rss: Sequence[ReplicaSet]) -> None:
    """``scale``: one active RS is set straight to ``spec.replicas``; a saturated new RS scales
    the old ones to 0; otherwise (RollingUpdate only) replicas are shared proportionally."""
    d = w.d
    target = find_active_or_latest(new_rs, old_rss)
    if target is not None:
        if target.replicas != d.replicas:
            w.scale_and_record(target, d.replicas)
        return
    if is_saturated(d, new_rs):
        for old in util.active(old_rss):
            w.scale_and_record(old, 0)
        return
    if not d.is_rolling:
        return
    sizes, operation = proportional_sizes(d, util.active([*old_rss, new_rs]))
    for rs, size in sizes:
        w.scale(rs, size, operation)
