"""Step 1 of a Job sync: what the Job needs (pods to create or delete, its end), as
pkg/controller/job decides it (pure functions)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.controllers.job.util import (
    BACKOFF_EXCEEDED,
    BATCH_V1,
    COMPLETION_INDEX_ENV,
    COMPLETIONS_REACHED,
    DEADLINE_EXCEEDED,
    DEFAULT_BACKOFF,
    MAX_BACKOFF,
    UNKNOWN_INDEX,
    Backoff,
    completion_index,
    condition,
    ensure_condition,
    has_finalizer,
    is_indexed,
    is_pod_failed,
    is_suspended,
    new_condition,
    next_backoff,
    only_replace_failed,
    parse_indexes,
    spec_of,
    status_of,
    succeeded_indexes,
)
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
