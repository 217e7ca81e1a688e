"""The Job controller's vocabulary: conditions, predicates over Jobs and their pods, the
failure back-off and completion indexes (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.objects import (
    Obj,
    format_time,
    is_deleting,
    meta,
    parse_time,
    pod_phase,
)
from webhook.cluster.kinds.batch import COMPLETION_INDEX, TRACKING_FINALIZER

BATCH_V1 = "batch/v1"
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 600.0
MAX_UNCOUNTED = 500
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
MANAGED_BY = "kubernetes.io/job-controller"
UNKNOWN_INDEX = -1


# --- small predicates -----------------------------------------------------------------------


def spec_of(job: Obj) -> Mapping[str, Any]:
    spec = job.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def status_of(job: Obj) -> Mapping[str, Any]:
    status = job.get("status")
    return status if isinstance(status, Mapping) else {}


def conditions_of(job: Obj) -> list[Mapping[str, Any]]:
    return [c for c in status_of(job).get("conditions") or () if isinstance(c, Mapping)]


def condition(job: Obj, ctype: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions_of(job) if c.get("type") == ctype), None)


def is_finished(job: Obj) -> bool:
    """``IsJobFinished``: a Complete or Failed condition that is True."""
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in conditions_of(job))


def is_indexed(job: Obj) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def is_suspended(job: Obj) -> bool:
    return spec_of(job).get("suspend") is True


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or ())


def only_replace_failed(job: Obj) -> bool:
    spec = spec_of(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """``isPodFailed``: Failed, or (unless only failed pods are replaced) deleted before it
    succeeded."""
    if pod_phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return is_deleting(pod) and pod_phase(pod) != "Succeeded"


def completion_index(pod: Obj) -> int:
    raw = (meta(pod).get("annotations") or {}).get(COMPLETION_INDEX)
    if not isinstance(raw, str) or not raw.isdigit():
        return UNKNOWN_INDEX
    return int(raw)


def new_condition(ctype: str, reason: str, message: str, now: float) -> dict[str, Any]:
    stamp = format_time(now)
    cond: dict[str, Any] = {"type": ctype, "status": "True", "lastProbeTime": stamp,
                            "lastTransitionTime": stamp}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def ensure_condition(conditions: list[dict[str, Any]], ctype: str, status: str, reason: str,
                     message: str, now: float) -> bool:
    """``ensureJobConditionStatus``: update or append; never append a False one."""
    for i, cond in enumerate(conditions):
        if cond.get("type") == ctype:
            if (cond.get("status"), cond.get("reason", ""), cond.get("message", "")) != (
                    status, reason, message):
                conditions[i] = dict(new_condition(ctype, reason, message, now), status=status)
                return True
            return False
    if status != "False":
        conditions.append(dict(new_condition(ctype, reason, message, now), status=status))
        return True
    return False


# --- back-off after failures ----------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """``backoffRecord``: failures since the last success and when the latest was."""

    failures: int = 0
    last_failure: float | None = None

    def remaining(self, now: float, base: float = DEFAULT_BACKOFF,
                  most: float = MAX_BACKOFF) -> float:
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = base
        for _ in range(1, self.failures):
            delay *= 2
            if delay >= most:
                delay = most
                break
        return max(0.0, delay - (now - self.last_failure))


def finished_time(pod: Obj, now: float) -> float:
    """``getFinishedTime``: the latest container finish, else when it stopped being ready,
    else its deletion, else now."""
    latest: float | None = None
    status = pod.get("status") or {}
    for cs in list(status.get("containerStatuses") or ()) + list(
            status.get("initContainerStatuses") or ()):
        done = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        at = parse_time(done)
        if at is not None and (latest is None or at > latest):
            latest = at
    if latest is not None:
        return latest
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            at = parse_time(cond.get("lastTransitionTime"))
            if at is not None:
                return at
    deleted = parse_time(meta(pod).get("deletionTimestamp"))
    return deleted if deleted is not None else now


def next_backoff(record: Backoff, succeeded: Sequence[Obj], failed: Sequence[Obj],
                 now: float) -> Backoff:
    """``newBackoffRecord`` after the newly finished pods."""
    if not failed:
        return Backoff() if succeeded else record
    failed_at = sorted(finished_time(p, now) for p in failed)
    if not succeeded:
        return Backoff(record.failures + len(failed_at), failed_at[-1])
    last_success = max(finished_time(p, now) for p in succeeded)
    after = [t for t in failed_at if t > last_success]
    return Backoff(len(after), after[-1] if after else None)


# --- indexes ---------------------------------------------------------------------------------


def parse_indexes(text: str, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            continue
        out.update(i for i in range(int(lo), int(hi or lo) + 1) if i < completions)
    return out


def format_indexes(indexes: set[int]) -> str:
    """``orderedIntervals.String``: ``0-2,5,7-8``."""
    out: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def succeeded_indexes(job: Obj, pods: Sequence[Obj]) -> tuple[set[int], set[int]]:
    """(indexes counted before, those plus the ones of succeeded pods still tracked)."""
    completions = int(spec_of(job).get("completions") or 0)
    before = parse_indexes(str(status_of(job).get("completedIndexes") or ""), completions)
    now = set(before)
    for pod in pods:
        ix = completion_index(pod)
        if pod_phase(pod) == "Succeeded" and has_finalizer(pod) and 0 <= ix < completions:
            now.add(ix)
    return before, now
