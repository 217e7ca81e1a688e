"""The Job controller's decisions (``webhook.cluster.controllers.job``) as tables, over pods whose
status is what a kubelet writes (terminated containers with exit codes, Succeeded/Failed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.job_world import T0, job, pod
from webhook.cluster.controllers import cronjob as cjc
from webhook.cluster.controllers import job as jc
from webhook.cluster.controllers.objects import format_time
from webhook.cluster.kinds.batch import TRACKING_FINALIZER


def assess(j: dict[str, Any], pods: list[dict[str, Any]], now: float = T0 + 10,
           backoff: jc.Backoff | None = None, met: bool = True) -> jc.Assessment:
    return jc.assess(j, pods, now=now, backoff=backoff or jc.Backoff(), expectations_met=met)


def test_defaults_selector_and_labels_as_the_api_server_sets_them() -> None:
    j = job("web")
    labels = j["spec"]["template"]["metadata"]["labels"]
    assert labels == {"batch.kubernetes.io/controller-uid": "job-web",
                      "batch.kubernetes.io/job-name": "web", "controller-uid": "job-web",
                      "job-name": "web"}
    assert j["spec"]["selector"] == {"matchLabels": {
        "batch.kubernetes.io/controller-uid": "job-web"}}
    assert j["metadata"]["labels"] == labels
    assert {k: j["spec"][k] for k in ("completions", "parallelism", "backoffLimit",
                                      "completionMode", "suspend", "manualSelector",
                                      "podReplacementPolicy")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed"}


# (case, job spec, pods (job -> list), want create, want delete count, want finished type)
CASES: list[tuple[str, dict[str, Any], Any, int, int, str | None]] = [
    ("a new Job starts one pod", {}, lambda j: [], 1, 0, None),
    ("parallelism caps the pods, remaining completions too",
     {"completions": 5, "parallelism": 3},
     lambda j: [pod(j, "Succeeded"), pod(j, "Succeeded"), pod(j)], 2, 0, None),
    ("no completions: once one pod succeeded none is added",
     {"completions": None, "parallelism": 2},
     lambda j: [pod(j, "Succeeded"), pod(j)], 0, 0, None),
    ("no completions: done when one succeeded and none runs",
     {"completions": None, "parallelism": 2},
     lambda j: [pod(j, "Succeeded"), pod(j, "Failed")], 0, 0, "SuccessCriteriaMet"),
    ("enough successes and nothing running: success criteria met",
     {"completions": 2, "parallelism": 2},
     lambda j: [pod(j, "Succeeded"), pod(j, "Succeeded")], 0, 0, "SuccessCriteriaMet"),
    ("a failure past backoffLimit ends the Job and deletes what runs",
     {"backoffLimit": 0, "parallelism": 2, "completions": 3},
     lambda j: [pod(j, "Failed"), pod(j)], 0, 1, "FailureTarget"),
    ("failures up to backoffLimit are replaced (after the back-off)",
     {"backoffLimit": 2}, lambda j: [pod(j, "Failed", finished=T0 - 30)], 1, 0, None),
    ("too many pods: the not-ready one goes first",
     {"completions": 3, "parallelism": 1},
     lambda j: [pod(j, ready=True), pod(j, "Pending")], 0, 1, None),
    ("a suspended Job deletes its pods", {"suspend": True},
     lambda j: [pod(j), pod(j)], 0, 2, None),
    ("OnFailure: container restarts count against backoffLimit",
     {"backoffLimit": 2, "pod_spec": {"containers": [{"name": "c", "image": "i"}],
                                      "restartPolicy": "OnFailure"}},
     lambda j: [pod(j, restarts=2)], 0, 1, "FailureTarget"),
    ("a pod being deleted is a failure that gets replaced (TerminatingOrFailed)",
     {"backoffLimit": 3}, lambda j: [pod(j, deleting=True, finished=T0 - 60)], 1, 0, None),
    ("podReplacementPolicy Failed waits for the terminating pod",
     {"backoffLimit": 3, "podReplacementPolicy": "Failed"},
     lambda j: [pod(j, deleting=True)], 0, 0, None),
]


@pytest.mark.parametrize(("spec", "pods", "create", "delete", "finished"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assess(spec: dict[str, Any], pods: Any, create: int, delete: int,
                finished: str | None) -> None:
    spec = dict(spec)
    completions = spec.pop("completions", 1)
    if completions is not None:
        spec["completions"] = completions
    j = job("j", **spec)
    a = assess(j, pods(j))
    assert (a.create, len(a.delete)) == (create, delete)
    assert (a.finished or {}).get("type") == finished
    if a.delete and delete == 1 and len(a.active) == 2 and not finished:
        assert a.delete[0]["status"]["phase"] == "Pending"


def test_the_first_start_records_start_time_and_a_deadline_requeue() -> None:
    a = assess(job(activeDeadlineSeconds=30), [], now=T0 + 10)
    assert a.status["startTime"] == format_time(T0 + 10)
    assert a.requeue_after == 30


def test_active_deadline_ends_the_job() -> None:
    j = job(activeDeadlineSeconds=30, status={"startTime": format_time(T0)})
    a = assess(j, [pod(j)], now=T0 + 31)
    assert a.finished is not None and a.finished["reason"] == "DeadlineExceeded"
    assert a.finished["message"] == "Job was active longer than specified deadline"
    assert len(a.delete) == 1


@pytest.mark.parametrize(("failures", "ago", "wait"), [
    (1, 0.0, 10.0), (1, 4.0, 6.0), (2, 0.0, 20.0), (3, 0.0, 40.0), (7, 0.0, 600.0),
    (20, 0.0, 600.0), (1, 11.0, 0.0), (0, 0.0, 0.0),
])
def test_failure_backoff_doubles_to_ten_minutes(failures: int, ago: float, wait: float) -> None:
    record = jc.Backoff(failures, T0 - ago if failures else None)
    assert record.remaining(T0) == pytest.approx(wait)


def test_backoff_delays_the_replacement_of_a_fresh_failure() -> None:
    j = job(backoffLimit=3)
    failed = pod(j, "Failed", finished=T0 + 8)
    a = assess(j, [failed], now=T0 + 10)
    assert a.backoff == jc.Backoff(1, T0 + 8)
    assert a.create == 0 and a.requeue_after == pytest.approx(8.0)


def test_a_success_resets_the_backoff() -> None:
    j = job(completions=3, parallelism=1, backoffLimit=6)
    a = assess(j, [pod(j, "Failed", finished=T0 + 1), pod(j, "Succeeded", finished=T0 + 3)],
               backoff=jc.Backoff(2, T0))
    assert a.backoff == jc.Backoff(0, None)
    assert a.create == 1


def test_success_is_recorded_then_counted_then_complete() -> None:
    j = job()
    done = pod(j, "Succeeded")
    a = assess(j, [done])
    assert a.finished is not None and a.finished["type"] == "SuccessCriteriaMet"
    t = jc.track(j, [done], a, now=T0 + 10)
    assert t.flush and t.remove_finalizer == [done]
    assert t.status["uncountedTerminatedPods"] == {"succeeded": [done["metadata"]["uid"]]}
    met = next(c for c in t.status["conditions"] if c["type"] == "SuccessCriteriaMet")
    assert (met["reason"], met["message"]) == jc.COMPLETIONS_REACHED
    # the finalizer is gone: counted, then Complete (nothing terminating)
    changed, finished = jc.settle(t.status, set(), t.final, 0, now=T0 + 11)
    assert changed and finished
    assert t.status["succeeded"] == 1 and t.status["uncountedTerminatedPods"] == {}
    types = [c["type"] for c in t.status["conditions"]]
    assert types == ["SuccessCriteriaMet", "Complete"]
    assert t.status["completionTime"] == format_time(T0 + 11)
    assert jc.finished_events(dict(j, status=t.status), t.final or {}) == [
        ("Normal", "Completed", "Job completed")]


def test_failure_waits_for_the_terminating_pods_before_failed() -> None:
    j = job(backoffLimit=0, parallelism=2, completions=2)
    failed, running = pod(j, "Failed"), pod(j)
    a = assess(j, [failed, running])
    assert a.finished is not None and a.finished["type"] == "FailureTarget"
    assert a.delete == [running]
    t = jc.track(j, [failed, running], a, now=T0 + 10)
    assert [c["type"] for c in t.status["conditions"]] == ["FailureTarget"]
    assert set(t.status["uncountedTerminatedPods"]["failed"]) == {
        failed["metadata"]["uid"], running["metadata"]["uid"]}
    # finalizers removed, the running pod still terminating: not Failed yet
    changed, finished = jc.settle(t.status, set(), t.final, 1, now=T0 + 11)
    assert changed and not finished and t.status["failed"] == 2
    # next sync: the FailureTarget turns into Failed once nothing terminates
    j2 = dict(j, status=t.status)
    a2 = assess(j2, [])
    assert a2.finished is not None and a2.finished["type"] == "Failed"
    t2 = jc.track(j2, [], a2, now=T0 + 20)
    assert jc.settle(t2.status, set(), t2.final, 0, now=T0 + 20) == (True, True)
    failed_cond = next(c for c in t2.status["conditions"] if c["type"] == "Failed")
    assert (failed_cond["reason"], failed_cond["message"]) == jc.BACKOFF_EXCEEDED
    assert "completionTime" not in t2.status
    assert jc.finished_events(j2, t2.final or {}) == [
        ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]


def test_a_finalizer_removal_in_flight_is_not_counted_twice() -> None:
    j = job(completions=2, parallelism=2)
    done = pod(j, "Succeeded")
    uid = done["metadata"]["uid"]
    a = jc.assess(j, [done, pod(j)], now=T0 + 10, backoff=jc.Backoff(), expectations_met=True,
                  expected_rm={uid})
    assert a.new_succeeded == [] and a.succeeded == 0


def test_suspension_and_resumption_conditions() -> None:
    j = job(suspend=True)
    a = assess(j, [])
    assert a.status["conditions"][0]["type"] == "Suspended"
    assert a.events == [("Normal", "Suspended", "Job suspended")]
    assert "startTime" not in a.status
    resumed = job(status={"conditions": a.status["conditions"]})
    b = assess(resumed, [], now=T0 + 50)
    cond = b.status["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "JobResumed")
    assert b.events == [("Normal", "Resumed", "Job resumed")]
    assert b.status["startTime"] == format_time(T0 + 50)


def test_indexed_jobs_create_missing_indexes_with_env_and_hostname() -> None:
    j = job(completions=3, parallelism=2, completionMode="Indexed")
    a = assess(j, [pod(j, "Succeeded", index=0)])
    assert a.create_indexes == [1, 2]
    made = jc.pod_from_template(j, 1)
    assert made["metadata"]["generateName"] == "j-1-"
    assert made["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1"
    assert made["spec"]["hostname"] == "j-1"
    assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1",
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} in \
        made["spec"]["containers"][0]["env"]
    assert made["metadata"]["finalizers"] == [TRACKING_FINALIZER]


def test_indexed_completed_indexes_are_intervals() -> None:
    j = job(completions=8, parallelism=8, completionMode="Indexed",
            status={"completedIndexes": "0-1"})
    pods = [pod(j, "Succeeded", index=i) for i in (2, 5, 6)]
    a = assess(j, pods)
    t = jc.track(j, pods, a, now=T0 + 10)
    assert t.status["completedIndexes"] == "0-2,5-6" and t.status["succeeded"] == 5
    assert jc.format_indexes({1, 2, 3, 7}) == "1-3,7"
    assert jc.parse_indexes("1-3,7,9", 8) == {1, 2, 3, 7}


def test_duplicate_indexes_are_deleted_first() -> None:
    j = job(completions=2, parallelism=2, completionMode="Indexed")
    a = assess(j, [pod(j, index=0, ready=True), pod(j, index=0), pod(j, index=1)])
    assert len(a.delete) == 1 and a.delete[0]["status"]["conditions"][0]["status"] == "False"


def test_ttl_after_finished() -> None:
    j = job(ttlSecondsAfterFinished=30, status={"conditions": [
        {"type": "Complete", "status": "True", "lastTransitionTime": format_time(T0)}]})
    assert jc.ttl_remaining(j, T0 + 10) == 20
    assert jc.ttl_remaining(j, T0 + 40) == 0
    assert jc.ttl_remaining(job(ttlSecondsAfterFinished=30), T0) is None
    assert jc.ttl_remaining(job(), T0) is None


# --- CronJobs ---------------------------------------------------------------------------------


def cronjob(schedule: str, created: float, **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "ns", "uid": "cj-1",
                         "creationTimestamp": format_time(created)},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow",
                     "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                                     "spec": {"template": {"spec": {
                                         "restartPolicy": "Never",
                                         "containers": [{"name": "c", "image": "i"}]}}}},
                     **spec},
            "status": status}


# 02:00 UTC on the day of T0
BASE = 1_800_000_000.0 - (1_800_000_000 % 86400) + 2 * 3600


@pytest.mark.parametrize(("schedule", "created", "now", "scheduled", "missed", "next_at"), [
    ("0 3 * * *", BASE, BASE + 1800, None, 0, BASE + 3600),
    ("0 3 * * *", BASE, BASE + 3600 + 5, BASE + 3600, 1, BASE + 3600 + 86400),
    ("*/10 * * * *", BASE, BASE + 3 * 3600 + 7, BASE + 3 * 3600, 18, BASE + 3 * 3600 + 600),
    ("@every 30s", BASE, BASE + 95, BASE + 90, 3, BASE + 120),
])
def test_cronjob_due(schedule: str, created: float, now: float, scheduled: float | None,
                     missed: int, next_at: float) -> None:
    d = cjc.due(cronjob(schedule, created), now)
    assert (d.scheduled, d.missed, d.next_at, d.too_late) == (scheduled, missed, next_at, False)


def test_cronjob_starting_deadline_and_last_schedule() -> None:
    late = cjc.due(cronjob("0 3 * * *", BASE, startingDeadlineSeconds=60), BASE + 3600 + 120)
    assert late.scheduled is None  # the window passed: nothing left to run
    ran = cronjob("0 3 * * *", BASE, status={"lastScheduleTime": format_time(BASE + 3600)})
    assert cjc.due(ran, BASE + 3600 + 5).scheduled is None


def test_cronjob_job_and_status() -> None:
    cj = cronjob("0 3 * * *", BASE, timeZone="Europe/Paris")
    made = cjc.job_from_template(cj, BASE + 3600)
    assert made["metadata"]["name"] == f"nightly-{int((BASE + 3600) // 60)}"
    assert made["metadata"]["labels"] == {"team": "a"}
    assert made["metadata"]["annotations"][cjc.SCHEDULED_AT].endswith("+01:00")
    assert made["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    done = dict(made, metadata=dict(made["metadata"], uid="j1", resourceVersion="3"),
                status={"startTime": format_time(BASE), "completionTime": format_time(BASE + 9),
                        "conditions": [{"type": "Complete", "status": "True"}]})
    running = dict(made, metadata=dict(made["metadata"], name="nightly-2", uid="j2"),
                   status={"startTime": format_time(BASE + 60)})
    old_done = dict(done, metadata=dict(done["metadata"], name="nightly-0", uid="j0"),
                    status=dict(done["status"], startTime=format_time(BASE - 60)))
    plan = cjc.track(dict(cj, status={"active": [cjc.reference(done)]}),
                     [done, running, old_done])
    assert [r["name"] for r in plan.status["active"]] == ["nightly-2"]
    assert plan.status["lastSuccessfulTime"] == format_time(BASE + 9)
    assert ("Normal", "SawCompletedJob",
            f"Saw completed job: {made['metadata']['name']}, status: Complete") in plan.events
    assert plan.delete_history == ["nightly-0"]  # one successful Job kept
