"""The CronJob controller's decisions (pkg/controller/cronjob, cronjob_controllerv2.go), as pure
functions.

When a schedule time has come (the latest one since the last scheduled time, or since the
CronJob was created, and within ``startingDeadlineSeconds``), a Job named
``<cronjob>-<scheduled time in minutes since 1970>`` is made from the job template, with the
CronJob as controller and the ``batch.kubernetes.io/cronjob-scheduled-timestamp`` annotation;
``concurrencyPolicy`` Forbid skips a run while one is active, Replace deletes the active ones
first. Status lists the active Jobs and the last schedule and success times; finished Jobs
beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit`` are deleted, oldest first.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster import cron
from webhook.cluster.controllers import job as jc
from webhook.cluster.controllers.objects import (
    Obj,
    format_time,
    meta,
    name_of,
    new_controller_ref,
    parse_time,
    uid_of,
)

SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100


def zone(cj: Obj) -> dt.tzinfo:
    name = (cj.get("spec") or {}).get("timeZone")
    if not name:
        return dt.UTC
    import zoneinfo  # only for a CronJob with a zone

    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True)
class Due:
    """The schedule's verdict at ``now``: the time to run (None: nothing due), how many were
    missed, when to look again, and whether the due time is past its starting deadline."""

    scheduled: float | None
    missed: int
    next_at: float | None
    too_late: bool = False


def due(cj: Obj, now: float) -> Due:
    """``mostRecentScheduleTime`` and ``nextScheduleTime``."""
    spec = cj.get("spec") or {}
    try:
        schedule = cron.parse(str(spec.get("schedule") or ""))
    except cron.CronError:
        return Due(None, 0, None)
    tz = zone(cj)
    status = cj.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
        meta(cj).get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - int(deadline))
    start = dt.datetime.fromtimestamp(earliest, tz)
    t1 = cron.next_after(schedule, start)
    if t1 is None or t1.timestamp() > now:
        return Due(None, 0, t1.timestamp() if t1 else None)
    t2 = cron.next_after(schedule, t1)
    if t2 is None or t2.timestamp() > now:
        return _due(t1.timestamp(), 1, t2, deadline, now)
    # as upstream: estimate how many were missed from the gap between two runs, jump to just
    # before the latest, and let the schedule find it from there
    gap = max(1.0, round(t2.timestamp() - t1.timestamp()))
    missed = int((now - t1.timestamp()) // gap) + 1
    t = t1 + dt.timedelta(seconds=(missed - 2) * gap)
    latest = t1.timestamp()
    while (nxt := cron.next_after(schedule, t)) is not None and nxt.timestamp() <= now:
        latest, t = nxt.timestamp(), nxt
    return _due(latest, missed, nxt, deadline, now)


def _due(latest: float, missed: int, nxt: dt.datetime | None, deadline: Any, now: float
         ) -> Due:
    too_late = deadline is not None and latest + int(deadline) < now
    return Due(latest, missed, nxt.timestamp() if nxt is not None else None, too_late)


def job_name(cj: Obj, scheduled: float) -> str:
    """``getJobName``: the scheduled time in minutes, so one run per minute at most."""
    return f"{name_of(cj)}-{int(scheduled // 60)}"


def job_from_template(cj: Obj, scheduled: float) -> dict[str, Any]:
    """``getJobFromTemplate2``."""
    template = copy.deepcopy(dict((cj.get("spec") or {}).get("jobTemplate") or {}))
    md = dict(template.get("metadata") or {})
    stamp = dt.datetime.fromtimestamp(scheduled, zone(cj)).isoformat()
    md["annotations"] = dict(md.get("annotations") or {}, **{SCHEDULED_AT: stamp})
    md["name"] = job_name(cj, scheduled)
    md["ownerReferences"] = [new_controller_ref(cj, api_version=jc.BATCH_V1, kind="CronJob")]
    md.pop("generateName", None)
    return {"apiVersion": jc.BATCH_V1, "kind": "Job", "metadata": md,
            "spec": dict(template.get("spec") or {})}


def reference(job: Obj) -> dict[str, Any]:
    md = meta(job)
    return {"kind": "Job", "namespace": md.get("namespace", ""), "name": md.get("name", ""),
            "uid": md.get("uid", ""), "apiVersion": jc.BATCH_V1,
            "resourceVersion": md.get("resourceVersion", "")}


@dataclass
class Plan:
    status: dict[str, Any]
    events: list[tuple[str, str, str]] = field(default_factory=list)
    delete_history: list[str] = field(default_factory=list)


def track(cj: Obj, jobs: Sequence[Obj]) -> Plan:
    """The status part of a sync: the active list against the Jobs this CronJob controls, and
    the finished ones beyond the history limits."""
    status: dict[str, Any] = copy.deepcopy(dict(cj.get("status") or {}))
    by_uid = {uid_of(j): j for j in jobs}
    plan = Plan(status)
    active: list[dict[str, Any]] = []
    for ref in status.get("active") or ():
        job = by_uid.get(str(ref.get("uid")))
        if job is None:
            plan.events.append(("Normal", "MissingJob",
                                f"Active job went missing: {ref.get('name')}"))
            continue
        if jc.is_finished(job):
            outcome = "Complete" if jc.condition(job, "Complete") else "Failed"
            plan.events.append(("Normal", "SawCompletedJob",
                                f"Saw completed job: {name_of(job)}, status: {outcome}"))
            if outcome == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (not last or (parse_time(done) or 0) > (parse_time(last) or 0)):
                    status["lastSuccessfulTime"] = done
            continue
        active.append(dict(ref))
    listed = {str(ref.get("uid")) for ref in active}
    for job in jobs:
        if not jc.is_finished(job) and uid_of(job) not in listed:
            active.append(reference(job))
    if active:
        status["active"] = active
    else:
        status.pop("active", None)
    plan.delete_history = _history(cj, jobs)
    return plan


def _history(cj: Obj, jobs: Sequence[Obj]) -> list[str]:
    spec = cj.get("spec") or {}
    out: list[str] = []
    for kind, key in (("Complete", "successfulJobsHistoryLimit"),
                      ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(key)
        if limit is None:
            continue
        finished = [j for j in jobs if jc.condition(j, kind) is not None
                    and (jc.condition(j, kind) or {}).get("status") == "True"]
        finished.sort(key=lambda j: str((j.get("status") or {}).get("startTime")
                                        or meta(j).get("creationTimestamp") or ""))
        out += [name_of(j) for j in finished[:max(0, len(finished) - int(limit))]]
    return out


def scheduled_status(status: Mapping[str, Any], job: Obj, scheduled: float
                     ) -> dict[str, Any]:
    out = dict(status)
    out["active"] = [*(status.get("active") or ()), reference(job)]
    out["lastScheduleTime"] = format_time(scheduled)
    return out
