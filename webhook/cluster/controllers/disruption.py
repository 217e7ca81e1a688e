"""The disruption controller's decisions (pkg/controller/disruption) and the eviction
subresource's (pkg/registry/core/pod/storage/eviction.go), as pure functions.

A PodDisruptionBudget's status: ``expectedPods`` (the pods it selects for an integer
``minAvailable``, else the summed scale of the controllers of those pods), ``desiredHealthy``
(``minAvailable``, or ``expectedPods - maxUnavailable``, percentages rounded up),
``currentHealthy`` (selected pods that are Ready, not being deleted and not just evicted),
``disruptionsAllowed`` (their difference, never below 0, and 0 while nothing is expected), the
``DisruptionAllowed`` condition (SufficientPods / InsufficientPods, SyncFailed when the
expected count cannot be worked out) and ``observedGeneration``. Evicted pods stay in
``disruptedPods`` until deleted, at most two minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.objects import (
    Obj,
    controller_ref,
    format_time,
    is_deleting,
    is_pod_ready,
    labels_of,
    meta,
    name_of,
    parse_time,
    pod_phase,
    selector_matches,
)
from webhook.cluster.kinds.common import int_or_percent

DELETION_TIMEOUT = 120.0  # seconds an evicted pod may take to get its deletionTimestamp
MAX_DISRUPTED_PODS = 2000
CONDITION = "DisruptionAllowed"
TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE = ("This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support.")

# (controller uid, its scale) for a pod's controller reference, None if not a known one
ScaleOf = Callable[[Mapping[str, Any], str], "tuple[str, int] | None"]


class ExpectedCountError(Exception):
    """The expected pod count cannot be worked out (a pod's controller has no scale)."""


def selects(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: a nil selector selects nothing, ``{}`` everything."""
    if meta(pdb).get("namespace") != meta(pod).get("namespace"):
        return False
    return selector_matches((pdb.get("spec") or {}).get("selector"), labels_of(pod))


def scaled(value: Any, total: int, round_up: bool = True) -> int:
    """``GetScaledValueFromIntOrPercent``."""
    parsed = int_or_percent(value)
    if parsed is None:
        raise ExpectedCountError(f"invalid value for IntOrString: invalid value {value!r}")
    number, percent = parsed
    if not percent:
        return number
    return math.ceil(number * total / 100) if round_up else math.floor(number * total / 100)


def expected_count(pdb: Obj, pods: Sequence[Obj], scale_of: ScaleOf
                   ) -> tuple[int, int, list[str]]:
    """``getExpectedPodCount``: (expectedPods, desiredHealthy, unmanaged pod names)."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected, unmanaged = _expected_scale(pods, scale_of)
        desired = max(0, expected - scaled(spec["maxUnavailable"], expected))
        return expected, desired, unmanaged
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int) and not isinstance(min_available, bool):
        return len(pods), min_available, []
    if min_available is not None:
        expected, unmanaged = _expected_scale(pods, scale_of)
        return expected, scaled(min_available, expected), unmanaged
    return 0, 0, []


def _expected_scale(pods: Sequence[Obj], scale_of: ScaleOf) -> tuple[int, list[str]]:
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(name_of(pod))
            continue
        if str(ref.get("uid")) in scales:
            continue
        found = scale_of(ref, str(meta(pod).get("namespace") or ""))
        if found is None:
            raise ExpectedCountError(f'found no controllers for pod "{name_of(pod)}"')
        scales[found[0]] = found[1]
    return sum(scales.values()), unmanaged


def disrupted_pods(pdb: Obj, pods: Sequence[Obj], now: float
                   ) -> tuple[dict[str, str], float | None, list[str]]:
    """``buildDisruptedPodMap``: (evictions still pending, when to look again, pods that
    were expected to be deleted and were not)."""
    listed = ((pdb.get("status") or {}).get("disruptedPods") or {})
    kept: dict[str, str] = {}
    recheck: float | None = None
    late: list[str] = []
    for pod in pods:
        if is_deleting(pod) or name_of(pod) not in listed:
            continue
        since = parse_time(listed[name_of(pod)])
        if since is None:
            continue
        due = since + DELETION_TIMEOUT
        if due < now:
            late.append(name_of(pod))
            continue
        recheck = due if recheck is None else min(recheck, due)
        kept[name_of(pod)] = listed[name_of(pod)]
    return kept, recheck, late


def count_healthy(pods: Sequence[Obj], disrupted: Mapping[str, str], now: float) -> int:
    healthy = 0
    for pod in pods:
        if is_deleting(pod):
            continue
        since = parse_time(disrupted.get(name_of(pod)))
        if since is not None and since + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def set_condition(status: dict[str, Any], status_value: str, reason: str, message: str,
                  generation: int, now: float) -> None:
    """``meta.SetStatusCondition`` for DisruptionAllowed."""
    conds = [dict(c) for c in status.get("conditions") or () if isinstance(c, Mapping)]
    new = {"type": CONDITION, "status": status_value, "reason": reason, "message": message,
           "observedGeneration": generation, "lastTransitionTime": format_time(now)}
    for i, cond in enumerate(conds):
        if cond.get("type") == CONDITION:
            if cond.get("status") == status_value:
                new["lastTransitionTime"] = cond.get("lastTransitionTime") or new[
                    "lastTransitionTime"]
            conds[i] = new
            break
    else:
        conds.append(new)
    status["conditions"] = conds


def allowed_condition(status: dict[str, Any], generation: int, now: float) -> None:
    """``UpdateDisruptionAllowedCondition``."""
    if int(status.get("disruptionsAllowed") or 0) > 0:
        set_condition(status, "True", "SufficientPods", "", generation, now)
    else:
        set_condition(status, "False", "InsufficientPods", "", generation, now)


def _up_to_date(pdb: Obj) -> bool:
    """``ConditionsAreUpToDate``."""
    status = pdb.get("status") or {}
    generation = int(meta(pdb).get("generation") or 0)
    for cond in status.get("conditions") or ():
        if cond.get("type") == CONDITION:
            want = "True" if int(status.get("disruptionsAllowed") or 0) > 0 else "False"
            return bool(cond.get("status") == want
                        and cond.get("observedGeneration") == generation)
    return False


def new_status(pdb: Obj, current: int, desired: int, expected: int,
               disrupted: Mapping[str, str], now: float) -> dict[str, Any] | None:
    """``updatePdbStatus``: the status to write, or None when it is already that."""
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    old = pdb.get("status") or {}
    generation = int(meta(pdb).get("generation") or 0)
    if (old.get("currentHealthy"), old.get("desiredHealthy"), old.get("expectedPods"),
            old.get("disruptionsAllowed"), dict(old.get("disruptedPods") or {}),
            old.get("observedGeneration")) == (current, desired, expected, allowed,
                                               dict(disrupted), generation) and _up_to_date(pdb):
        return None
    status: dict[str, Any] = {"currentHealthy": current, "desiredHealthy": desired,
                              "expectedPods": expected, "disruptionsAllowed": allowed,
                              "observedGeneration": generation,
                              "conditions": list(old.get("conditions") or ())}
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    allowed_condition(status, generation, now)
    return status


def fail_safe_status(pdb: Obj, message: str, now: float) -> dict[str, Any]:
    """``failSafe``: no disruptions allowed, and why (SyncFailed)."""
    status = dict(pdb.get("status") or {})
    status["disruptionsAllowed"] = 0
    set_condition(status, "False", "SyncFailed", message,
                  int(status.get("observedGeneration") or 0), now)
    return status


# --- eviction -----------------------------------------------------------------------------------


def can_ignore_budget(pod: Obj) -> bool:
    """``canIgnorePDB``: a finished, pending or already deleted pod is simply deleted."""
    return pod_phase(pod) in ("Succeeded", "Failed", "Pending") or is_deleting(pod)


@dataclass(frozen=True)
class Eviction:
    """What an eviction of a running pod does: ``outcome`` is ``delete`` (no budget, or an
    unhealthy pod the budget lets go), ``decrement`` (take one disruption and delete),
    ``refuse`` (429 TooManyRequests), ``forbid`` (403) or ``multiple`` (500)."""

    outcome: str
    pdb: Obj | None = None
    cause: str = ""
    check_version: bool = False  # delete only the pod version judged


def judge_eviction(pod: Obj, pdbs: Sequence[Obj]) -> Eviction:
    """The budget checks of ``EvictionREST.Create`` and ``checkAndDecrement``."""
    matching = [p for p in pdbs if _selects_for_eviction(p, pod)]
    if len(matching) > 1:
        return Eviction("multiple")
    if not matching:
        return Eviction("delete")
    pdb = matching[0]
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    name = name_of(pdb)
    if not is_pod_ready(pod):
        if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            return Eviction("delete", pdb, check_version=True)
        current, desired = int(status.get("currentHealthy") or 0), int(
            status.get("desiredHealthy") or 0)
        if current >= desired > 0:
            return Eviction("delete", pdb, check_version=True)
    if int(status.get("observedGeneration") or 0) < int(meta(pdb).get("generation") or 0):
        return Eviction("refuse", pdb, f"The disruption budget {name} is still being "
                                       "processed by the server.")
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        return Eviction("forbid", pdb, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        return Eviction("forbid", pdb, "DisruptedPods map too big - too many evictions not "
                                       "confirmed by PDB controller")
    if allowed == 0:
        return Eviction("refuse", pdb, f"The disruption budget {name} needs "
                                       f"{int(status.get('desiredHealthy') or 0)} healthy pods "
                                       f"and has {int(status.get('currentHealthy') or 0)} "
                                       "currently")
    return Eviction("decrement", pdb)


def _selects_for_eviction(pdb: Obj, pod: Obj) -> bool:
    """``getPodDisruptionBudgets``: an empty selector matches no pod here."""
    selector = (pdb.get("spec") or {}).get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    return selects(pdb, pod)


def decremented(pdb: Obj, pod_name: str, now: float) -> dict[str, Any]:
    """The status after one eviction: one disruption fewer, the pod marked disrupted."""
    status = dict(pdb.get("status") or {})
    status["disruptionsAllowed"] = int(status.get("disruptionsAllowed") or 0) - 1
    if status["disruptionsAllowed"] == 0:
        allowed_condition(status, int(status.get("observedGeneration") or 0), now)
    status["disruptedPods"] = dict(status.get("disruptedPods") or {}, **{
        pod_name: format_time(now)})
    return status
