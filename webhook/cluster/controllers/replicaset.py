"""The ReplicaSet controller's decisions (pkg/controller/replicaset), as pure functions.

Pod ownership (adopt/release), how many pods to create or which to delete (``manageReplicas`` and
the ``ActivePodsWithRanks`` victim order), the pod built from the template
(``GetPodFromTemplate``) and the status (``calculateStatus``).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.objects import (
    APPS_V1,
    Obj,
    annotations_of,
    controller_uid,
    format_time,
    is_deleting,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    labels_of,
    meta,
    name_of,
    namespace_of,
    new_controller_ref,
    parse_time,
    pod_phase,
    pod_ready_time,
    selector_matches,
    uid_of,
)

BURST_REPLICAS = 500
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# --- ownership ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Pods this RS controls after claiming, and the ownerReference patches to send."""

    owned: tuple[Mapping[str, Any], ...]
    adopt: tuple[str, ...] = ()
    release: tuple[str, ...] = ()


def claim_pods(rs: Obj, pods: Sequence[Obj]) -> Claim:
    """``ClaimPods`` (controller_ref_manager.go) over the active pods of the namespace."""
    selector = (rs.get("spec") or {}).get("selector")
    uid = uid_of(rs)
    rs_deleting = is_deleting(rs)
    owned: list[Mapping[str, Any]] = []
    adopt: list[str] = []
    release: list[str] = []
    for pod in pods:
        matches = selector_matches(selector, labels_of(pod))
        owner = controller_uid(pod)
        if owner is not None:
            if owner != uid:
                continue
            if matches:
                owned.append(pod)
            elif not rs_deleting:
                release.append(name_of(pod))
            continue
        if rs_deleting or not matches or is_deleting(pod):
            continue
        adopt.append(name_of(pod))
        owned.append(pod)
    return Claim(tuple(owned), tuple(adopt), tuple(release))


def adopt_patch(rs: Obj, pod_uid: str) -> dict[str, Any]:
    """The strategic-merge patch ``ClaimPods`` sends to adopt an orphan pod."""
    ref = new_controller_ref(rs, api_version=APPS_V1, kind="ReplicaSet")
    return {"metadata": {"ownerReferences": [ref], "uid": pod_uid}}


def release_patch(owner_uid: str, pod_uid: str) -> dict[str, Any]:
    """The strategic-merge patch that removes our ownerReference from a pod."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
                         "uid": pod_uid}}


# --- scaling -----------------------------------------------------------------------------------


def replicas_diff(rs: Obj, active_pods: int) -> int:
    """Pods to create (> 0) or delete (< 0), capped at ``burstReplicas`` (500)."""
    want = int((rs.get("spec") or {}).get("replicas", 1))
    diff = want - active_pods
    return max(-BURST_REPLICAS, min(BURST_REPLICAS, diff))


def pod_from_template(rs: Obj) -> dict[str, Any]:
    """``GetPodFromTemplate``: labels, annotations, finalizers and spec of the template, a
    ``generateName`` of ``<rs>-`` and the controller ownerReference."""
    template = (rs.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    md: dict[str, Any] = {
        "generateName": f"{name_of(rs)}-",
        "namespace": namespace_of(rs),
        "ownerReferences": [new_controller_ref(rs, api_version=APPS_V1, kind="ReplicaSet")],
    }
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            md[key] = copy.deepcopy(tmeta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def slow_start_batches(count: int, initial: int = 1) -> list[int]:
    """``slowStartBatch``: create in batches of 1, 2, 4, ... stopping at the first failure."""
    out: list[int] = []
    size = min(count, initial)
    remaining = count
    while size > 0:
        out.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return out


def _deletion_cost(pod: Obj) -> int:
    raw = annotations_of(pod).get(DELETION_COST)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _node(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _max_restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(c.get("restartCount") or 0) for c in statuses), default=0)


def _log_rank(t: float, now: float) -> int:
    d = (now - t) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def _time_less(ti: float | None, tj: float | None, ui: str, uj: str, now: float) -> bool:
    """Rules 6/8 with LogarithmicScaleDown: zero first, then by log2 age bucket, then uid."""
    if ti is None or tj is None:
        return ti is None
    diff = _log_rank(ti, now) - _log_rank(tj, now)
    if diff == 0:
        return ui < uj
    return diff < 0


def victim_less(a: Obj, b: Obj, rank_a: int, rank_b: int, now: float) -> bool:
    """``ActivePodsWithRanks.Less``: true when ``a`` should be deleted before ``b``."""
    na, nb = _node(a), _node(b)
    if na != nb and (not na or not nb):
        return not na
    pa, pb = _PHASE_ORDINAL.get(pod_phase(a), 0), _PHASE_ORDINAL.get(pod_phase(b), 0)
    if pa != pb:
        return pa < pb
    ra, rb = is_pod_ready(a), is_pod_ready(b)
    if ra != rb:
        return not ra
    ca, cb = _deletion_cost(a), _deletion_cost(b)
    if ca != cb:
        return ca < cb
    if rank_a != rank_b:
        return rank_a > rank_b
    if ra and rb:
        ta, tb = pod_ready_time(a), pod_ready_time(b)
        if ta != tb:
            return _time_less(ta, tb, uid_of(a), uid_of(b), now)
    xa, xb = _max_restarts(a), _max_restarts(b)
    if xa != xb:
        return xa > xb
    ta, tb = parse_time(meta(a).get("creationTimestamp")), parse_time(
        meta(b).get("creationTimestamp"))
    if ta != tb:
        return _time_less(ta, tb, uid_of(a), uid_of(b), now)
    return False


def pods_to_delete(
    pods: Sequence[Obj], related: Sequence[Obj], diff: int, now: float
) -> list[Obj]:
    """``getPodsToDelete``: rank by pods of the same owner family on the same node, sort by
    ``ActivePodsWithRanks`` and take the first ``diff``."""
    if diff >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            on_node[_node(pod)] = on_node.get(_node(pod), 0) + 1
    ranked = [(pod, on_node.get(_node(pod), 0)) for pod in pods]

    def cmp(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        if victim_less(x[0], y[0], x[1], y[1], now):
            return -1
        if victim_less(y[0], x[0], y[1], x[1], now):
            return 1
        return 0

    ranked.sort(key=functools.cmp_to_key(cmp))
    return [pod for pod, _ in ranked[:diff]]


# --- status ------------------------------------------------------------------------------------


def calculate_status(
    rs: Obj, pods: Sequence[Obj], manage_error: str | None, now: float
) -> dict[str, Any]:
    """``calculateStatus``: replicas (owned active pods), fullyLabeled, ready, available (ready
    for minReadySeconds) and the ReplicaFailure condition on create/delete errors, with
    observedGeneration as written. Zero counts other than ``replicas`` are omitted, as Go's
    ``omitempty`` does."""
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    labeled = ready = available = 0
    for pod in pods:
        plabels = labels_of(pod)
        if all(plabels.get(k) == v for k, v in template_labels.items()):
            labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    old = rs.get("status") or {}
    conditions = [c for c in old.get("conditions") or () if c.get("type") != "ReplicaFailure"]
    failure = next((c for c in old.get("conditions") or ()
                    if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None:
        if failure is None:
            want = int(spec.get("replicas", 1))
            reason = "FailedCreate" if len(pods) < want else "FailedDelete"
            failure = {"type": "ReplicaFailure", "status": "True",
                       "lastTransitionTime": format_time(now), "reason": reason,
                       "message": manage_error}
        conditions.append(failure)
    status: dict[str, Any] = {"replicas": len(pods)}  # the one count without omitempty
    for key, value in (("fullyLabeledReplicas", labeled),
                       ("readyReplicas", ready), ("availableReplicas", available)):
        if value:
            status[key] = value
    generation = int(meta(rs).get("generation") or 0)
    if generation:
        status["observedGeneration"] = generation
    if conditions:
        status["conditions"] = conditions
    return status


def status_needs_update(rs: Obj, status: Mapping[str, Any]) -> bool:
    """``updateReplicaSetStatus`` skips the write when the counts and conditions are equal and
    the generation is already observed."""
    old = rs.get("status") or {}
    generation = int(meta(rs).get("generation") or 0)
    same = all((old.get(k) or 0) == (status.get(k) or 0) for k in (
        "replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
    same = same and (old.get("conditions") or []) == (status.get("conditions") or [])
    return not (same and int(old.get("observedGeneration") or 0) >= generation)


def min_ready_requeue(rs: Obj, status: Mapping[str, Any]) -> float | None:
    """Resync after minReadySeconds when every replica is ready but not all available."""
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    want = int(spec.get("replicas", 1))
    if (min_ready > 0 and int(status.get("readyReplicas") or 0) == want
            and int(status.get("availableReplicas") or 0) != want):
        return float(min_ready)
    return None
