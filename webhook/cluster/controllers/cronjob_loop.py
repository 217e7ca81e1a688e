"""The CronJob controller loop: a CronJob syncs when it or one of its Jobs changes, and again
when its next schedule time comes (a timed requeue: nothing runs while nothing is due)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import cronjob as cjc
from webhook.cluster.controllers.events import EventRecorder
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.objects import (
    Key,
    Obj,
    controller_ref,
    format_time,
    meta,
    uid_of,
)
from webhook.cluster.controllers.workqueue import (
    Retry,
    WorkQueue,
    enqueue_key,
    retry_on_conflict,
    run_workers,
)
from webhook.errors import APIStatusError

CRONJOBS = "cronjobs.batch"
JOBS = "jobs.batch"
USER = "system:serviceaccount:kube-system:cronjob-controller"
# Past the schedule time by this much (a slow loop), the run is still made at once.
SLACK = 0.05


class CronJobController:
    def __init__(self, api: ClusterAPI, informers: Informers,
                 clock: Callable[[], float] = _time.time) -> None:
        self.api = api
        self.clock = clock
        self.cronjobs = informers.of(CRONJOBS)
        self.jobs = informers.of(JOBS)
        self.queue: WorkQueue[Key] = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.recorder = EventRecorder(api, "cronjob-controller", clock)
        self.cronjobs.add_handler(enqueue_key(self.queue))
        self.jobs.add_handler(self._on_job)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 2, "cronjob")

    def _on_job(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        job = new or old
        ref = controller_ref(job) if job is not None else None
        if job is not None and ref is not None and ref.get("kind") == "CronJob":
            self.queue.add((str(meta(job).get("namespace") or ""), str(ref.get("name"))))

    async def sync(self, key: Key) -> None:
        cj = self.cronjobs.get(*key)
        if cj is None:
            return
        jobs = self.jobs.controlled_by(uid_of(cj))
        plan = cjc.track(cj, jobs)
        for event in plan.events:
            self.recorder.record(cj, *event)
        for name in plan.delete_history:
            await self._delete(cj, name)
        status = plan.status
        spec = cj.get("spec") or {}
        if not meta(cj).get("deletionTimestamp") and not spec.get("suspend"):
            status = await self._maybe_run(cj, key, status)
        if status != (cj.get("status") or {}):
            with retry_on_conflict():
                await self.api.update(CRONJOBS, key[0], dict(cj, status=status),
                                      subresource="status", user=USER)

    async def _maybe_run(self, cj: Obj, key: Key, status: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        d = cjc.due(cj, now + SLACK)
        if d.next_at is not None:
            self.queue.add_after(key, max(0.0, d.next_at - now))
        if d.scheduled is None:
            return status
        if d.missed > cjc.TOO_MANY_MISSED:
            self.recorder.record(cj, "Warning", "TooManyMissedTimes",
                                 "too many missed start times. Set or decrease "
                                 ".spec.startingDeadlineSeconds or check clock skew")
        if d.too_late:
            self.recorder.record(cj, "Warning", "MissSchedule",
                                 "Missed scheduled time to start a job: "
                                 f"{format_time(d.scheduled)}")
            return status
        name = cjc.job_name(cj, d.scheduled)
        if any(ref.get("name") == name for ref in status.get("active") or ()) or \
                self.jobs.get(key[0], name) is not None:
            return status  # already made for this time
        policy = (cj.get("spec") or {}).get("concurrencyPolicy", "Allow")
        if status.get("active") and policy == "Forbid":
            self.recorder.record(cj, "Normal", "JobAlreadyActive",
                                 "Not starting job because prior execution is running and "
                                 "concurrency policy is Forbid")
            return status
        if status.get("active") and policy == "Replace":
            for ref in status["active"]:
                await self._delete(cj, str(ref.get("name")))
            status = dict(status)
            status.pop("active", None)
        try:
            job = await self.api.create(JOBS, key[0], cjc.job_from_template(cj, d.scheduled),
                                        user=USER)
        except APIStatusError as exc:
            if exc.status == 409:  # made by an earlier sync the cache had not shown
                return status
            self.recorder.record(cj, "Warning", "FailedCreate", f"Error creating job: {exc}")
            raise Retry() from exc
        self.recorder.record(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        return cjc.scheduled_status(status, job, d.scheduled)

    async def _delete(self, cj: Obj, name: str) -> None:
        try:
            await self.api.delete(JOBS, str(meta(cj).get("namespace")), name,
                                  propagation_policy="Background", user=USER)
        except APIStatusError as exc:
            if exc.status != 404:
                raise
            return
        self.recorder.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")
