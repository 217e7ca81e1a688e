"""The Job controller's decisions (pkg/controller/job, 1.32 with its default feature gates), as
pure functions over plain objects.

One sync is three steps, with the API calls between them done by ``job_loop``:

1. ``assess``: which pods are active, ready, terminating; which finished pods are new; whether
   the Job has reached its end (``SuccessCriteriaMet`` when enough pods succeeded,
   ``FailureTarget`` past ``backoffLimit`` or ``activeDeadlineSeconds``), and else how many
   pods to create or which to delete (parallelism, remaining completions, suspension, the
   failure back-off of 10 s doubling to 10 min).
2. ``track``: finished pods go to ``status.uncountedTerminatedPods`` (with the interim
   condition) before their ``batch.kubernetes.io/job-tracking`` finalizer is removed.
3. ``settle``: pods whose finalizer is gone are counted into ``succeeded``/``failed``; once
   nothing is uncounted and no pod is terminating, the final ``Complete`` or ``Failed``
   condition is added (with ``completionTime`` for Complete).

Indexed Jobs get their completion index in an annotation, a label, ``JOB_COMPLETION_INDEX`` and
the hostname; ``completedIndexes`` lists the succeeded ones. Not implemented:
``podFailurePolicy``, ``successPolicy``, ``backoffLimitPerIndex`` (stored; the Job is run as if
they were unset). A Job whose ``managedBy`` names another controller is left to it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.controllers.objects import (
    Obj,
    format_time,
    is_deleting,
    is_pod_ready,
    meta,
    name_of,
    new_controller_ref,
    parse_time,
    pod_phase,
    uid_of,
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


# --- step 1: assess --------------------------------------------------------------------------


@dataclass
class Assessment:
    active: list[Obj]
    ready: int
    terminating: int
    succeeded: int
    failed: int
    new_succeeded: list[Obj]
    new_failed: list[Obj]
    backoff: Backoff
    finished: dict[str, Any] | None = None  # the interim/final condition reached
    delete: list[Obj] = field(default_factory=list)
    create: int = 0
    create_indexes: list[int] = field(default_factory=list)
    requeue_after: float | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)  # working copy of the Job's status
    manage_called: bool = False


def _uncounted(job: Obj) -> tuple[set[str], set[str]]:
    raw = status_of(job).get("uncountedTerminatedPods") or {}
    return set(raw.get("succeeded") or ()), set(raw.get("failed") or ())


def _valid(job: Obj, pod: Obj, uncounted: set[str], expected_rm: AbstractSet[str]) -> bool:
    """``getValidPodsWithFilter``'s test: tracked, not yet counted, a valid index if any."""
    uid = uid_of(pod)
    if not has_finalizer(pod) or uid in uncounted or uid in expected_rm:
        return False
    if is_indexed(job):
        ix = completion_index(pod)
        return 0 <= ix < int(spec_of(job).get("completions") or 0)
    return True


def past_backoff_on_failure(job: Obj, pods: Sequence[Obj]) -> bool:
    """``pastBackoffLimitOnFailure``: container restarts of running/pending pods (OnFailure)."""
    template = (spec_of(job).get("template") or {}).get("spec") or {}
    if template.get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if pod_phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for cs in list(status.get("containerStatuses") or ()) + list(
                    status.get("initContainerStatuses") or ()):
                restarts += int(cs.get("restartCount") or 0)
    limit = int(spec_of(job).get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def _past_deadline(job: Obj, now: float) -> bool:
    deadline = spec_of(job).get("activeDeadlineSeconds")
    start = parse_time(status_of(job).get("startTime"))
    if deadline is None or start is None or is_suspended(job):
        return False
    return now - start >= int(deadline)


def _order_for_removal(pods: Sequence[Obj]) -> list[Obj]:
    """``controller.ActivePods`` order: unscheduled, pending, not ready, then newer first."""
    def rank(pod: Obj) -> tuple[int, int, int, str]:
        scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
        phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod_phase(pod), 2)
        return (scheduled, phase, 1 if is_pod_ready(pod) else 0,
                _negated(str(meta(pod).get("creationTimestamp") or "")))
    return sorted(pods, key=rank)


def _negated(stamp: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in stamp)


def assess(job: Obj, pods: Sequence[Obj], *, now: float, backoff: Backoff,
           expectations_met: bool, expected_rm: AbstractSet[str] = frozenset(),
           pod_backoff: tuple[float, float] = (DEFAULT_BACKOFF, MAX_BACKOFF)) -> Assessment:
    """What a sync of ``job`` (not finished) over its claimed ``pods`` decides;
    ``pod_backoff`` is the first and the longest wait before replacing a failed pod."""
    spec = spec_of(job)
    status: dict[str, Any] = copy.deepcopy(dict(status_of(job)))
    status.setdefault("uncountedTerminatedPods", {})
    unc_ok, unc_failed = _uncounted(job)
    active = [p for p in pods if not is_deleting(p) and pod_phase(p) not in ("Succeeded",
                                                                              "Failed")]
    terminating = sum(1 for p in pods if is_deleting(p) and pod_phase(p) not in (
        "Succeeded", "Failed"))
    new_ok = [p for p in pods if _valid(job, p, unc_ok, expected_rm)
              and pod_phase(p) == "Succeeded"]
    new_failed = [p for p in pods if _valid(job, p, unc_failed, expected_rm)
                  and is_pod_failed(p, job)]
    succeeded = int(status.get("succeeded") or 0) + len(new_ok) + len(unc_ok)
    failed = int(status.get("failed") or 0) + len(new_failed) + len(unc_failed)
    if not status.get("startTime") and not is_suspended(job):
        status["startTime"] = format_time(now)
    a = Assessment(active=active, ready=sum(1 for p in active if is_pod_ready(p)),
                   terminating=terminating, succeeded=succeeded, failed=failed,
                   new_succeeded=new_ok, new_failed=new_failed,
                   backoff=next_backoff(backoff, new_ok, new_failed, now), status=status)
    if is_indexed(job):
        _, done = succeeded_indexes(job, pods)
        a.succeeded = len(done)
    met = condition(job, "SuccessCriteriaMet")
    if met is not None and met.get("status") == "True":
        a.finished = dict(met)
    else:
        target = condition(job, "FailureTarget")
        if target is not None and target.get("status") == "True":
            a.finished = new_condition("Failed", str(target.get("reason") or ""),
                                       str(target.get("message") or ""), now)
    if a.finished is None:
        raw_limit = spec.get("backoffLimit")
        limit = int(raw_limit) if raw_limit is not None else 6
        judged = dict(job, status=status)
        if failed > limit or past_backoff_on_failure(job, pods):
            a.finished = new_condition("FailureTarget", *BACKOFF_EXCEEDED, now)
        elif _past_deadline(judged, now):
            a.finished = new_condition("FailureTarget", *DEADLINE_EXCEEDED, now)
        elif spec.get("activeDeadlineSeconds") is not None and not is_suspended(job):
            start = parse_time(status.get("startTime")) or now
            a.requeue_after = max(0.0, int(spec["activeDeadlineSeconds"]) - (now - start))
    if a.finished is not None:
        a.delete = list(active)  # every active pod goes; the end waits for them
        return a
    if expectations_met and not is_deleting(job):
        _manage(job, a, now, pod_backoff)
        a.manage_called = True
    completions = spec.get("completions")
    remaining_active = len(a.active) - len(a.delete) + a.create
    if completions is None:
        complete = a.succeeded > 0 and remaining_active == 0
    else:
        complete = a.succeeded >= int(completions) and remaining_active == 0
    if complete:
        a.finished = new_condition("SuccessCriteriaMet", *COMPLETIONS_REACHED, now)
    elif a.manage_called:
        _suspension(job, a, now)
    return a


def _manage(job: Obj, a: Assessment, now: float, pod_backoff: tuple[float, float]) -> None:
    """``manageJob``: the pods to delete, or the pods to create (after any back-off)."""
    spec = spec_of(job)
    active = len(a.active)
    if is_suspended(job):
        a.delete = _order_for_removal(a.active)
        return
    parallelism = int(spec.get("parallelism") or 0)
    completions = spec.get("completions")
    if completions is None:
        want = active if a.succeeded > 0 else parallelism
    else:
        want = max(0, min(int(completions) - a.succeeded, parallelism))
    if is_indexed(job):
        duplicates = _duplicate_indexes(job, a.active)
        if duplicates:
            a.delete = duplicates
            return
    if active > want:
        a.delete = _order_for_removal(a.active)[:active - want]
        return
    terminating = a.terminating if only_replace_failed(job) else 0
    diff = want - terminating - active
    if diff <= 0:
        return
    wait = a.backoff.remaining(now, *pod_backoff)
    if wait > 0:
        a.requeue_after = wait if a.requeue_after is None else min(a.requeue_after, wait)
        return
    if is_indexed(job):
        a.create_indexes = _pending_indexes(job, a, diff)
        a.create = len(a.create_indexes)
    else:
        a.create = diff


def _duplicate_indexes(job: Obj, active: list[Obj]) -> list[Obj]:
    """Active pods with an invalid or repeated index (``appendDuplicatedIndexPods``)."""
    completions = int(spec_of(job).get("completions") or 0)
    keep: set[int] = set()
    remove: list[Obj] = []
    for pod in sorted(active, key=lambda p: (completion_index(p), not is_pod_ready(p))):
        ix = completion_index(pod)
        if ix < 0 or ix >= completions or ix in keep:
            remove.append(pod)
        else:
            keep.add(ix)
    return remove


def _pending_indexes(job: Obj, a: Assessment, count: int) -> list[int]:
    completions = int(spec_of(job).get("completions") or 0)
    done = parse_indexes(str(status_of(job).get("completedIndexes") or ""), completions)
    done |= {completion_index(p) for p in a.new_succeeded}
    busy = {completion_index(p) for p in a.active}
    return [i for i in range(completions) if i not in done and i not in busy][:count]


def _suspension(job: Obj, a: Assessment, now: float) -> None:
    conds: list[dict[str, Any]] = [dict(c) for c in a.status.get("conditions") or ()]
    if is_suspended(job):
        if ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now):
            a.events.append(("Normal", "Suspended", "Job suspended"))
    elif ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", now):
        a.events.append(("Normal", "Resumed", "Job resumed"))
        a.status["startTime"] = format_time(now)
    if conds:
        a.status["conditions"] = conds


# --- pods the controller creates --------------------------------------------------------------


def pod_from_template(job: Obj, index: int = UNKNOWN_INDEX) -> dict[str, Any]:
    """The pod ``CreatePodsWithGenerateName`` sends: the template, the tracking finalizer, the
    Job as controller; for an Indexed Job its index and hostname."""
    template = copy.deepcopy(dict(spec_of(job).get("template") or {}))
    md = dict(template.get("metadata") or {})
    pod_spec = dict(template.get("spec") or {})
    name = name_of(job)
    fins = list(md.get("finalizers") or ())
    if TRACKING_FINALIZER not in fins:
        fins.append(TRACKING_FINALIZER)
    md["finalizers"] = fins
    md["generateName"] = f"{name}-"
    md["ownerReferences"] = [new_controller_ref(job, api_version=BATCH_V1, kind="Job")]
    md.pop("name", None)
    if index != UNKNOWN_INDEX:
        md["annotations"] = dict(md.get("annotations") or {}, **{COMPLETION_INDEX: str(index)})
        md["labels"] = dict(md.get("labels") or {}, **{COMPLETION_INDEX: str(index)})
        md["generateName"] = f"{name}-{index}-"
        pod_spec["hostname"] = f"{name}-{index}"
        for key in ("containers", "initContainers"):
            pod_spec[key] = [_with_index_env(c) for c in pod_spec.get(key) or ()]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": pod_spec}


def _with_index_env(container: Mapping[str, Any]) -> dict[str, Any]:
    c = dict(container)
    env = list(c.get("env") or ())
    if not any(isinstance(e, Mapping) and e.get("name") == COMPLETION_INDEX_ENV for e in env):
        env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}})
    c["env"] = env
    return c


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
