"""Steps 2 and 3 of a Job sync: finished pods recorded as uncounted, their finalizers
removed, then counted; the final condition; the TTL after finishing (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.job.assess import Assessment
from webhook.cluster.controllers.job.util import (
    MAX_UNCOUNTED,
    completion_index,
    conditions_of,
    ensure_condition,
    format_indexes,
    has_finalizer,
    is_finished,
    is_indexed,
    is_pod_failed,
    new_condition,
    spec_of,
    status_of,
    succeeded_indexes,
)
from webhook.cluster.controllers.objects import (
    Obj,
    format_time,
    is_deleting,
    parse_time,
    pod_phase,
    uid_of,
)
from webhook.cluster.kinds.batch import TRACKING_FINALIZER

# --- step 2: track ----------------------------------------------------------------------------


@dataclass
class Tracking:
    status: dict[str, Any]
    remove_finalizer: list[Obj]
    final: dict[str, Any] | None  # the Complete/Failed condition to add once settled
    flush: bool  # the status must be written before the finalizers go


def track(job: Obj, pods: Sequence[Obj], a: Assessment, *, now: float,
          expected_rm: AbstractSet[str] = frozenset()) -> Tracking:
    """``trackJobStatusAndRemoveFinalizers`` up to the removal: record finished pods as
    uncounted, pick the pods whose finalizer goes, add the interim condition."""
    status = a.status
    unc = status.setdefault("uncountedTerminatedPods", {})
    ok_list, failed_list = list(unc.get("succeeded") or ()), list(unc.get("failed") or ())
    with_finalizer = {uid_of(p) for p in pods if has_finalizer(p) and uid_of(p) not in expected_rm}
    flush = _count_gone(status, with_finalizer)
    ok_list, failed_list = (list(unc.get("succeeded") or ()), list(unc.get("failed") or ()))
    remove: list[Obj] = []
    finished = a.finished
    failing = finished is not None and finished.get("type") != "SuccessCriteriaMet"
    indexed = is_indexed(job)
    completions = int(spec_of(job).get("completions") or 0)
    before, _ = succeeded_indexes(job, ())
    new_indexes: set[int] = set()
    for pod in sorted(pods, key=completion_index) if indexed else pods:
        uid = uid_of(pod)
        if not has_finalizer(pod) or uid in expected_rm:
            continue
        failed_pod = is_pod_failed(pod, job)
        if not (is_deleting(job) or finished is not None or pod_phase(pod) == "Succeeded"
                or failed_pod):
            continue
        remove.append(pod)
        if pod_phase(pod) == "Succeeded" and uid not in failed_list:
            if indexed:
                ix = completion_index(pod)
                if 0 <= ix < completions and ix not in before:
                    new_indexes.add(ix)
                    flush = True
            elif uid not in ok_list:
                ok_list.append(uid)
                flush = True
        elif failed_pod or failing:
            ix = completion_index(pod)
            if uid not in failed_list and (not indexed or 0 <= ix < completions):
                failed_list.append(uid)
                flush = True
        if len(new_indexes) + len(ok_list) + len(failed_list) >= MAX_UNCOUNTED:
            break
    unc["succeeded"], unc["failed"] = ok_list, failed_list
    _clean_uncounted(unc)
    if indexed:
        done = before | new_indexes
        text = format_indexes(done)
        if text != str(status_of(job).get("completedIndexes") or ""):
            flush = True
        status["completedIndexes"] = text
        status["succeeded"] = len(done)
    final: dict[str, Any] | None = None
    conds = [dict(c) for c in status.get("conditions") or ()]
    if finished is not None and finished.get("type") == "FailureTarget":
        conds.append(finished)
        flush = True
        final = new_condition("Failed", finished.get("reason", ""), finished.get("message", ""),
                              now)
    elif finished is not None and finished.get("type") == "SuccessCriteriaMet":
        if not any(c.get("type") == "SuccessCriteriaMet" for c in conds):
            conds.append(finished)
            flush = True
        final = new_condition("Complete", finished.get("reason", ""),
                              finished.get("message", ""), now)
    elif finished is not None:
        final = finished
    if conds:
        status["conditions"] = conds
    return Tracking(status, remove, final, flush)


def _clean_uncounted(unc: dict[str, Any]) -> None:
    for key in ("succeeded", "failed"):
        if not unc.get(key):
            unc.pop(key, None)


def _count_gone(status: dict[str, Any], with_finalizer: set[str]) -> bool:
    """``cleanUncountedPodsWithoutFinalizers``: uncounted pods whose finalizer is gone are
    counted. Returns whether anything moved."""
    unc = status.setdefault("uncountedTerminatedPods", {})
    moved = False
    for key in ("succeeded", "failed"):
        listed = list(unc.get(key) or ())
        keep = [uid for uid in listed if uid in with_finalizer]
        if len(keep) != len(listed):
            moved = True
            status[key] = int(status.get(key) or 0) + len(listed) - len(keep)
            unc[key] = keep
    _clean_uncounted(unc)
    return moved


# --- step 3: settle ---------------------------------------------------------------------------


def settle(status: dict[str, Any], with_finalizer: set[str], final: dict[str, Any] | None,
           terminating: int, *, now: float) -> tuple[bool, bool]:
    """Count the pods whose finalizer went, then (``enactJobFinished``) add the final
    condition when nothing is uncounted or terminating. Returns (changed, finished)."""
    changed = _count_gone(status, with_finalizer)
    if final is None:
        return changed, False
    unc = status.get("uncountedTerminatedPods") or {}
    if unc.get("succeeded") or unc.get("failed") or terminating > 0:
        return changed, False
    conds = [dict(c) for c in status.get("conditions") or ()]
    ensure_condition(conds, str(final["type"]), "True", str(final.get("reason", "")),
                     str(final.get("message", "")), now)
    status["conditions"] = conds
    if final["type"] == "Complete":
        status["completionTime"] = format_time(now)
    return True, True


def finished_events(job: Obj, final: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``recordJobFinished``."""
    if final.get("type") == "Complete":
        out = []
        completions = spec_of(job).get("completions")
        if completions is not None and int(status_of(job).get("succeeded") or 0) > int(
                completions):
            out.append(("Warning", "TooManySucceededPods",
                        "Too many succeeded pods running after completion count reached"))
        out.append(("Normal", "Completed", "Job completed"))
        return out
    return [("Warning", str(final.get("reason", "")), str(final.get("message", "")))]


def remove_finalizer_patch() -> dict[str, Any]:
    return {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}


def ttl_remaining(job: Obj, now: float) -> float | None:
    """The TTL-after-finished controller: seconds until a finished Job with
    ``ttlSecondsAfterFinished`` is deleted (0: now), None if it never is."""
    ttl = spec_of(job).get("ttlSecondsAfterFinished")
    if ttl is None or not is_finished(job) or is_deleting(job):
        return None
    done = None
    for cond in conditions_of(job):
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            done = parse_time(cond.get("lastTransitionTime"))
    if done is None:
        return None
    return max(0.0, done + int(ttl) - now)
