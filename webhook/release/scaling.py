"""Replica counts and traffic weights: the arithmetic of a release, as pure functions.

``R`` is the user's replica count: their Deployment's ``spec.replicas`` as they (or their HPA)
set it. canarist may write a lower ``spec.replicas`` while a release runs (the stable pods); the
total it stays bound to is kept in the status (``webhook.release.replicas``).

With a traffic router the canary runs ``ceil(R * weight / 100)`` pods (Argo Rollouts'
``CalculateReplicaCountsForTrafficRoutedCanary``) and the stable pods stay at ``R``, or, with
dynamic stable scale, shrink to what the traffic left on them needs.

With router ``none`` (Argo's basic canary) the weight is the share of pods behind the user's
Service, out of a total kept near ``R``: the canary/stable split closest to the weight, of ``R``
pods or (when the Deployment may surge) ``R + 1`` (``approximate``), reached a few pods at a time
within the Deployment's ``maxSurge`` and ``maxUnavailable`` (``basic_counts``). ``R = 5`` at
20/40/60/80%: 1/4, 2/3, 3/2, 4/1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_FENCEPOST = "25%"  # Kubernetes' default maxSurge and maxUnavailable


def canary_for_weight(replicas: int, weight: int) -> int:
    """Traffic-routed canary pods for ``weight``: ``ceil(R * weight / 100)``."""
    if replicas <= 0 or weight <= 0:
        return 0
    return -(-replicas * min(weight, 100) // 100)


def scaled(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An int-or-percent field of the Deployment's strategy against ``total`` pods (Kubernetes'
    ``GetScaledValueFromIntOrPercent``); anything unreadable counts as the 25% default."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    text = value if isinstance(value, str) else DEFAULT_FENCEPOST
    number = text[:-1] if text.endswith("%") else ""
    if not number.isdigit():
        return scaled(DEFAULT_FENCEPOST, total, round_up=round_up)
    exact = int(number) * max(total, 0)
    return -(-exact // 100) if round_up else exact // 100


def fenceposts(
    replicas: int, max_surge: int | str | None, max_unavailable: int | str | None
) -> tuple[int, int]:
    """``(surge, unavailable)`` in pods for ``R`` (Kubernetes' ``ResolveFenceposts``: surge
    rounds up, unavailable down, and both 0 means one pod may be unavailable)."""
    surge = scaled(max_surge, replicas, round_up=True)
    unavailable = scaled(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def approximate(replicas: int, weight: int, surge: int) -> tuple[int, int]:
    """Router ``none``: the ``(canary, stable)`` pods whose share best matches ``weight``.

    The candidate canary counts are ``R * weight / 100`` rounded up and down; the candidate
    totals ``R``, and ``R + 1`` when the Deployment may surge. For a weight of 1–99 neither side
    is 0 (unless there is one pod and no surge) and a count exactly halfway is rounded up. The
    candidate whose share is nearest the weight wins, the first on a tie (up before down, ``R``
    before ``R + 1``) — Argo Rollouts' basic canary.
    """
    if replicas <= 0:
        return 0, 0
    weight = min(max(weight, 0), 100)
    exact = replicas * weight / 100
    up, down = math.ceil(exact), math.floor(exact)
    zero_allowed = weight in (0, 100) or (replicas == 1 and surge == 0)

    def tied(total: int) -> bool:
        return (total * weight / 100) % 1 == 0.5

    candidates: list[tuple[int, int]] = []
    if up < replicas or zero_allowed:
        candidates.append((up, replicas))
    if not tied(replicas) and (down > 0 or zero_allowed):
        candidates.append((down, replicas))
    if surge > 0:
        candidates.append((up, replicas + 1))
        if not tied(replicas + 1) and (down > 0 or zero_allowed):
            candidates.append((down, replicas + 1))
    if not candidates:
        return 0, replicas
    best = min(candidates, key=lambda c: abs(100 * c[0] / c[1] - weight))
    return best[0], best[1] - best[0]


@dataclass(frozen=True)
class Side:
    """One side of a basic canary: the pods asked for (``spec``) and those available."""

    spec: int
    available: int


def basic_counts(
    replicas: int,
    weight: int,
    fence: tuple[int, int],
    stable: Side,
    canary: Side,
) -> tuple[int, int]:
    """Router ``none``: the ``(canary, stable)`` counts to ask for now on the way to the split
    for ``weight``, never more than ``R + surge`` pods asked for and, while scaling down, no
    fewer than ``R - unavailable`` available:

    - scale up first, the stable side before the canary (so an abort gives the stable pods back
      before the canary's go);
    - then scale down the side that shrinks: while the canary grows, the stable side, counting
      its pods as asked for and the canary's as available; while it shrinks, the canary, counting
      its pods as asked for and the stable's as available (Argo Rollouts' rule, so pods that never
      become ready cannot block the release).

    Argo applies one such move per reconcile; here they repeat until nothing more can move with
    the pods available now, so planning again before any pod changed asks for nothing more.
    """
    counts = (canary.spec, stable.spec)
    for _ in range(2 * (replicas + fence[0]) + 2):
        moved = _basic_move(replicas, weight, fence, stable, canary)
        if moved == counts:
            break
        counts = moved  # (pods asked for change; the pods available now do not)
        canary = Side(moved[0], canary.available)
        stable = Side(moved[1], stable.available)
    return counts


def _basic_move(
    replicas: int, weight: int, fence: tuple[int, int], stable: Side, canary: Side
) -> tuple[int, int]:
    surge, unavailable = fence
    want_canary, want_stable = approximate(replicas, weight, surge)
    new_stable, new_canary = stable.spec, canary.spec
    room = replicas + surge - (stable.spec + canary.spec)
    if new_stable < want_stable and room > 0:
        grow = min(room, want_stable - new_stable)
        new_stable += grow
        room -= grow
    if new_canary < want_canary and room > 0:
        new_canary += min(room, want_canary - new_canary)
    floor = replicas - unavailable
    if want_canary >= canary.spec and stable.spec > want_stable:
        spare = stable.spec + min(canary.spec, canary.available) - floor
        if spare > 0:
            new_stable = max(want_stable, stable.spec - spare)
    elif want_canary < canary.spec:
        spare = canary.spec + min(stable.spec, stable.available) - floor
        if spare > 0:
            new_canary = max(want_canary, canary.spec - spare)
    return new_canary, new_stable


def stable_floor(stable_available: int, replicas: int) -> int:
    """The lowest canary weight the stable pods can take the rest of: traffic only returns to
    stable as fast as stable has available pods (Argo's stable-capacity guard)."""
    if replicas <= 0:
        return 0
    absorbed = math.floor(100 * min(stable_available, replicas) / replicas)
    return max(0, 100 - absorbed)


def stable_for_weights(replicas: int, desired: int, applied: int) -> int:
    """Dynamic stable scale: stable pods shrink only after traffic has left them, so the count is
    the larger of what the desired and the applied canary weights leave to stable."""

    def need(weight: int) -> int:
        return -(-replicas * (100 - min(max(weight, 0), 100)) // 100)

    return max(need(desired), need(applied))


def next_weight(
    *, target: int, applied: int, ready: bool, canary_available: int, floor: int
) -> int:
    """The weight to apply now.

    - Raising the weight waits until the canary has the pods for the step (``ready``);
      until then the applied weight holds.
    - Never a weight above 0 for a canary without an available pod.
    - Lowering the weight goes no lower than the stable pods can absorb (``floor``).
    """
    weight = target if target <= applied or ready else applied
    if weight < applied:
        weight = max(weight, min(applied, floor))
    if canary_available <= 0:
        return 0
    return max(0, min(100, weight))
