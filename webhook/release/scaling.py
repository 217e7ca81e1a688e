"""Replica counts and traffic weights: the arithmetic of a release, as pure functions.

``R`` is the user's replica count (``spec.replicas`` of their Deployment, which an HPA may change
mid-release; the canary follows it).

With a traffic router the canary runs ``ceil(R * weight / 100)`` pods (Argo Rollouts'
``CalculateReplicaCountsForTrafficRoutedCanary``) and the stable pods stay at ``R``.

With router ``none`` the weight *is* the share of pods behind the user's Service, and the user's
``R`` stable pods are never touched, so for weight ``w`` (1–99) the canary runs the count ``c``
that makes ``c / (R + c)`` closest to ``w / 100``: the integer next to ``R * w / (100 - w)``
whose share is nearer, ties to the larger, and at least one pod. Examples: ``R = 4``: 20% → 1 pod
(20%), 50% → 4 (50%), 80% → 16 (80%). The pod count grows fast above 50%; the share reached is
reported as the weight.
"""

from __future__ import annotations

import math


def canary_for_weight(replicas: int, weight: int) -> int:
    """Traffic-routed canary pods for ``weight``: ``ceil(R * weight / 100)``."""
    if replicas <= 0 or weight <= 0:
        return 0
    return -(-replicas * min(weight, 100) // 100)


def canary_for_share(replicas: int, weight: int) -> int:
    """Router ``none``: canary pods whose share of ``R + c`` is closest to ``weight``."""
    if weight <= 0:
        return 0
    if replicas <= 0:
        return 1
    if weight >= 100:
        raise ValueError("a share of 100% needs the stable pods gone; promote instead")
    ideal = replicas * weight / (100 - weight)
    low, high = max(1, math.floor(ideal)), max(1, math.ceil(ideal))
    target = weight / 100

    def error(c: int) -> float:
        return abs(c / (replicas + c) - target)

    return high if error(high) <= error(low) else low


def share(stable_available: int, canary_available: int) -> int:
    """The percentage of ready pods that are canary pods (router ``none``'s effective weight)."""
    total = stable_available + canary_available
    return 0 if total <= 0 else round(100 * canary_available / total)


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
