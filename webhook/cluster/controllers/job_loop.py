"""The Job controller loop (job_controller.go) and the TTL-after-finished controller.

Pod events are batched per Job (upstream waits a second; here ``BATCH_SECONDS``), Job spec
changes sync at once. A sync claims the Job's pods (adopting orphans its selector matches, with
the tracking finalizer), lets ``job.assess`` decide, creates or deletes pods, then records
finished pods as uncounted, removes their finalizers and counts them (``job.track`` and
``job.settle``), writing status through the status subresource as the controller does.
Expectations keep a Job from acting twice on pods the informer has not shown yet.

The TTL controller deletes a finished Job ``ttlSecondsAfterFinished`` after its Complete or
Failed condition, with foreground propagation (its pods go first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import job as jc
from webhook.cluster.controllers import replicaset as rsc
from webhook.cluster.controllers.events import EventRecorder
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.objects import (
    Key,
    Obj,
    controller_ref,
    is_deleting,
    is_pod_ready,
    key_of,
    meta,
    name_of,
    new_controller_ref,
    uid_of,
)
from webhook.cluster.controllers.replicaset_loop import (
    Expectations,
    pod_key,
    recheck_owner,
    release_pods,
)
from webhook.cluster.controllers.workqueue import Retry, WorkQueue, retry_on_conflict, run_workers
from webhook.cluster.kinds.batch import TRACKING_FINALIZER
from webhook.errors import APIStatusError

JOBS = "jobs.batch"
USER = "system:serviceaccount:kube-system:job-controller"
TTL_USER = "system:serviceaccount:kube-system:ttl-after-finished-controller"
WORKERS = 5
BATCH_SECONDS = 0.2


class JobController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]
                 ) -> None:
        self.api = api
        self.clock = clock
        self.jobs = informers.of(JOBS)
        self.pods = informers.of("pods")
        self.queue: WorkQueue[Key] = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.orphans: WorkQueue[Key] = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.expectations = Expectations(clock)
        self.backoff: dict[Key, jc.Backoff] = {}
        self.expected_rm: dict[Key, set[str]] = {}  # finalizer removals not seen yet
        self.pod_backoff = (jc.DEFAULT_BACKOFF, jc.MAX_BACKOFF)  # tests may shorten it
        self.recorder = EventRecorder(api, "job-controller", clock)
        self.jobs.add_handler(self._on_job)
        self.pods.add_handler(self._on_pod)

    async def run(self) -> None:
        await asyncio.gather(run_workers(self.queue, self.sync, WORKERS, "job"),
                             run_workers(self.orphans, self.sync_orphan, 1, "job-orphan"))

    # --- event handlers ------------------------------------------------------------------------

    def _on_job(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is None:
            return
        key = key_of(obj)
        if etype == "DELETED" or (old is not None and new is not None and meta(old).get(
                "generation") != meta(new).get("generation")) or etype == "ADDED":
            self.queue.add(key)
        else:
            self.queue.add_after(key, BATCH_SECONDS)
        if etype == "DELETED" or (new is not None and jc.is_finished(new)):
            self._orphan_finalizers(obj)

    def _resolve(self, pod: Obj) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.get(str(meta(pod).get("namespace") or ""), str(ref.get("name")))
        if job is None or uid_of(job) != ref.get("uid"):
            return None
        return job

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        pod = new if new is not None else old
        if pod is None:
            return
        if old is not None and new is not None and meta(old).get("resourceVersion") == meta(
                new).get("resourceVersion"):
            return
        job = self._resolve(pod)
        if job is None:
            if jc.has_finalizer(pod):
                self.orphans.add(key_of(pod))
            if old is not None:
                prev = self._resolve(old)
                if prev is not None:
                    self.queue.add_after(key_of(prev), BATCH_SECONDS)
            return
        key = key_of(job)
        if etype == "ADDED" and not is_deleting(pod):
            self.expectations.creation_observed(key)
        elif etype == "DELETED" or is_deleting(pod):
            self.expectations.deletion_observed(key, pod_key(pod))
        if etype == "DELETED" or not jc.has_finalizer(pod):
            self.expected_rm.get(key, set()).discard(uid_of(pod))
        if jc.is_finished(job) and jc.has_finalizer(pod):
            self.orphans.add(key_of(pod))
        self.queue.add_after(key, BATCH_SECONDS)

    def _orphan_finalizers(self, job: Obj) -> None:
        """``cleanupPodFinalizers``: a deleted or finished Job's pods lose the finalizer."""
        for pod in self.pods.controlled_by(uid_of(job)):
            if jc.has_finalizer(pod):
                self.orphans.add(key_of(pod))

    # --- orphans -------------------------------------------------------------------------------

    async def sync_orphan(self, key: Key) -> None:
        """``syncOrphanPod``: drop the finalizer of a pod no unfinished Job tracks."""
        pod = self.pods.get(*key)
        if pod is None or not jc.has_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != jc.BATCH_V1:
                return
            job = self._resolve(pod)
            if job is not None and not jc.is_finished(job):
                return
        await self._patch_finalizer_away(key[0], key[1])

    async def _patch_finalizer_away(self, ns: str, name: str) -> bool:
        try:
            await self.api.patch("pods", ns, name, jc.remove_finalizer_patch(), "strategic",
                                 user=USER)
        except APIStatusError as exc:
            if exc.status != 404:
                raise
        return True

    # --- sync ----------------------------------------------------------------------------------

    async def sync(self, key: Key) -> None:
        ns, name = key
        job = self.jobs.get(ns, name)
        if job is None:
            self.expectations.forget(key)
            self.backoff.pop(key, None)
            self.expected_rm.pop(key, None)
            return
        if jc.is_finished(job):
            self.backoff.pop(key, None)
            return
        if jc.spec_of(job).get("managedBy") not in (None, jc.MANAGED_BY):
            return  # another controller runs it (managedByExternalController)
        mode = jc.spec_of(job).get("completionMode")
        if mode not in (None, "NonIndexed", "Indexed"):
            self.recorder.record(job, "Warning", "UnknownCompletionMode",
                                 "Skipped Job sync because completion mode is unknown")
            return
        met = self.expectations.satisfied(key)
        pods = await self._claim(job)
        now = self.clock()
        expected_rm = set(self.expected_rm.get(key, ()))
        a = jc.assess(job, pods, now=now, backoff=self.backoff.get(key, jc.Backoff()),
                      expectations_met=met, expected_rm=expected_rm,
                      pod_backoff=self.pod_backoff)
        decided_before_manage = a.finished is not None and not a.manage_called
        deleted, deleted_ready, error = await self._delete(key, job, a.delete,
                                                           keep_finalizer=a.finished is not None)
        if decided_before_manage and (deleted != len(a.delete) or not met):
            a.finished = None  # pods or finalizers may remain that the cache has not shown
        created, create_error = await self._create(key, job, a)
        error = error or create_error
        terminating = a.terminating + deleted
        a.status["active"] = len(a.active) - deleted + created
        a.status["ready"] = a.ready - deleted_ready
        a.status["terminating"] = terminating
        t = jc.track(job, pods, a, now=now, expected_rm=expected_rm)
        written = status_body(job)
        if t.flush or _normal(t.status) != written:
            job = await self._write_status(job, t.status)
            written = status_body(job)
            self.backoff[key] = a.backoff
        with_finalizer = {uid_of(p) for p in pods if jc.has_finalizer(p)
                          and uid_of(p) not in expected_rm}
        removed, remove_error = await self._remove_finalizers(key, t.remove_finalizer)
        with_finalizer -= removed
        changed, finished = jc.settle(t.status, with_finalizer, t.final, terminating, now=now)
        if changed or _normal(t.status) != written:
            job = await self._write_status(job, t.status)
        for event in a.events:
            self.recorder.record(job, *event)
        if finished and t.final is not None:
            for event in jc.finished_events(job, t.final):
                self.recorder.record(job, *event)
        if a.requeue_after is not None:
            self.queue.add_after(key, max(a.requeue_after, BATCH_SECONDS))
        if error or remove_error:
            raise Retry()

    async def _claim(self, job: Obj) -> list[Obj]:
        """``getPodsForJob``: ours, and orphans the selector matches (adopted with the
        tracking finalizer); ours that no longer match are released."""
        ns = str(meta(job).get("namespace") or "")
        mine = self.pods.controlled_by(uid_of(job))
        orphans = [p for p in self.pods.orphans(ns) if not is_deleting(p)]
        claim = rsc.claim_pods(job, list(mine) + orphans)
        owned = list(claim.owned)
        if claim.adopt:
            await recheck_owner(self.api, JOBS, ns, job)
        for pod_name in claim.adopt:
            pod = next(p for p in owned if name_of(p) == pod_name)
            patch = {"metadata": {"ownerReferences": [new_controller_ref(
                job, api_version=jc.BATCH_V1, kind="Job")], "uid": uid_of(pod),
                "finalizers": [TRACKING_FINALIZER]}}
            try:
                owned[owned.index(pod)] = await self.api.patch("pods", ns, pod_name, patch,
                                                               "strategic", user=USER)
            except APIStatusError as exc:
                if exc.status != 404:
                    raise
                owned.remove(pod)
        await release_pods(self.api, ns, job, mine, claim.release, USER)
        return owned

    async def _delete(self, key: Key, job: Obj, pods: list[Obj], *, keep_finalizer: bool
                      ) -> tuple[int, int, bool]:
        """(deleted, of which ready, whether any failed). Pods deleted to scale down lose the
        finalizer first (``deleteJobPods``); when the Job ends it stays (``deleteActivePods``)."""
        if not pods:
            return 0, 0, False
        if not keep_finalizer:
            self.expectations.expect_deletions(key, [pod_key(p) for p in pods])

        async def one(pod: Obj) -> tuple[bool, bool]:
            ns, name = key[0], name_of(pod)
            try:
                if not keep_finalizer and jc.has_finalizer(pod):
                    await self._patch_finalizer_away(ns, name)
                await self.api.delete("pods", ns, name, user=USER)
            except APIStatusError as exc:
                if not keep_finalizer:
                    self.expectations.deletion_observed(key, pod_key(pod))
                if exc.status != 404:
                    self.recorder.record(job, "Warning", "FailedDelete",
                                         f"Error deleting: {exc}")
                    return False, False
            else:
                self.recorder.record(job, "Normal", "SuccessfulDelete",
                                     f"Deleted pod: {name}")
            return True, is_pod_ready(pod)

        results = await asyncio.gather(*(one(p) for p in pods))
        ok = [r for r in results if r[0]]
        return len(ok), sum(1 for r in ok if r[1]), len(ok) != len(pods)

    async def _create(self, key: Key, job: Obj, a: jc.Assessment) -> tuple[int, bool]:
        """Slow-start batches (1, 2, 4...) of pods; (created, whether any failed)."""
        if a.create <= 0:
            return 0, False
        indexes = list(a.create_indexes) or [jc.UNKNOWN_INDEX] * a.create
        self.expectations.expect_creations(key, len(indexes))
        created, batch = 0, 1
        while indexes:
            now, indexes = indexes[:batch], indexes[batch:]
            results = await asyncio.gather(
                *(self.api.create("pods", key[0], jc.pod_from_template(job, ix), user=USER)
                  for ix in now), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if isinstance(result, dict):
                    created += 1
                    self.recorder.record(job, "Normal", "SuccessfulCreate",
                                         f"Created pod: {name_of(result)}")
            if failures:
                self.expectations.creation_observed(key, len(failures) + len(indexes))
                self.recorder.record(job, "Warning", "FailedCreate",
                                     f"Error creating: {failures[0]}")
                return created, True
            batch *= 2
        return created, False

    async def _remove_finalizers(self, key: Key, pods: list[Obj]) -> tuple[set[str], bool]:
        if not pods:
            return set(), False
        pending = self.expected_rm.setdefault(key, set())
        pending.update(uid_of(p) for p in pods)

        async def one(pod: Obj) -> str | None:
            try:
                await self._patch_finalizer_away(key[0], name_of(pod))
            except APIStatusError:
                pending.discard(uid_of(pod))
                return None
            return uid_of(pod)

        done = {u for u in await asyncio.gather(*(one(p) for p in pods)) if u}
        return done, len(done) != len(pods)

    async def _write_status(self, job: Obj, status: dict[str, Any]) -> dict[str, Any]:
        body = dict(job, status=_normal(status))
        with retry_on_conflict():
            return await self.api.update(JOBS, str(meta(job).get("namespace")), body,
                                         subresource="status", user=USER)


def status_body(job: Mapping[str, Any]) -> dict[str, Any]:
    return _normal(dict(job.get("status") or {}))


def _normal(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status as encoding/json prints a JobStatus: zero counters and empty lists left
    out, ``ready``/``terminating`` (pointers) kept, ``uncountedTerminatedPods`` as ``{}``."""
    out = {k: v for k, v in status.items()
           if not (k in ("active", "succeeded", "failed") and not v)
           and not (k in ("conditions", "completedIndexes") and not v)}
    unc = dict(out.get("uncountedTerminatedPods") or {})
    out["uncountedTerminatedPods"] = {k: v for k, v in unc.items() if v}
    return out


class TTLController:
    """ttlafterfinished: delete finished Jobs whose ``ttlSecondsAfterFinished`` has passed."""

    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]
                 ) -> None:
        self.api = api
        self.clock = clock
        self.jobs = informers.of(JOBS)
        self.queue: WorkQueue[Key] = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.jobs.add_handler(self._on_job)

    def _on_job(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and etype != "DELETED" and jc.ttl_remaining(new, self.clock()
                                                                       ) is not None:
            self.queue.add(key_of(new))

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 1, "ttl-after-finished")

    async def sync(self, key: Key) -> None:
        job = self.jobs.get(*key)
        if job is None:
            return
        left = jc.ttl_remaining(job, self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            await self.api.delete(JOBS, key[0], key[1], propagation_policy="Foreground",
                                  preconditions={"uid": uid_of(job)}, user=TTL_USER)
        except APIStatusError as exc:
            if exc.status not in (404, 409):
                raise
