"""Jobs and CronJobs on the embedded cluster through kubectl 1.32, the official client and
Helm's Go library (a pre-install hook Job), with the Job controller running and the test
writing pod status the way a kubelet does (containers terminated with an exit code, phase
Succeeded or Failed)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_sdkpy as helm
import pytest

from tests.cluster.conftest import kubectl, until
from webhook.cluster.controllers.objects import format_time
from webhook.cluster.kinds.batch import TRACKING_FINALIZER
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.errors import APIStatusError

JOBS = "jobs.batch"
_ids = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    """Controllers without the kubelet: pods run only when the test says they did."""
    c = start_in_thread(without=frozenset({"kubelet", "webhook", "reconciler"}),
                        bookmark_interval=0.3)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def ns(cluster: RunningCluster) -> str:
    name = f"jobs{next(_ids)}"
    cluster.call(cluster.api.create("namespaces", None, {"metadata": {"name": name}}))
    return name


def ok(cluster: RunningCluster, *args: str) -> str:
    out = kubectl(cluster, *args)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def job_pods(cluster: RunningCluster, ns: str, job: str) -> list[dict[str, Any]]:
    pods, _ = cluster.call(cluster.api.list("pods", ns,
                                            label_selector=f"batch.kubernetes.io/job-name={job}"))
    return pods


def get_job(cluster: RunningCluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.call(cluster.api.get(JOBS, ns, name))


def conditions(job: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", ""))
            for c in (job.get("status") or {}).get("conditions") or []]


def run_to_end(cluster: RunningCluster, ns: str, pod: dict[str, Any], code: int) -> None:
    """What a kubelet writes when the pod's one container exits with ``code``."""
    api, name = cluster.api, pod["metadata"]["name"]
    if not pod["spec"].get("nodeName"):
        cluster.call(api.create("pods", ns, {"target": {"kind": "Node", "name": "node-1"}},
                                subresource="binding", name=name))
    current = cluster.call(api.get("pods", ns, name))
    at = format_time(time.time())
    container = current["spec"]["containers"][0]["name"]
    terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                  "startedAt": at, "finishedAt": at}
    current["status"] = dict(
        current.get("status") or {}, phase="Succeeded" if code == 0 else "Failed",
        conditions=[{"type": "Ready", "status": "False", "reason": "PodCompleted",
                     "lastProbeTime": None, "lastTransitionTime": at}],
        containerStatuses=[{"name": container, "ready": False, "restartCount": 0,
                            "image": "demo:v1", "imageID": "", "started": False,
                            "state": {"terminated": terminated}}])
    cluster.call(api.update("pods", ns, current, subresource="status",
                            user="system:node:node-1"))


def events(cluster: RunningCluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    items, _ = cluster.call(cluster.api.list("events", ns,
                                             field_selector=f"involvedObject.name={name}"))
    return [(e["type"], e["reason"], e["message"]) for e in items]


def test_kubectl_create_job_runs_it_to_complete(cluster: RunningCluster, ns: str) -> None:
    out = ok(cluster, "-n", ns, "create", "job", "once", "--image=demo:v1", "--", "true")
    assert out.strip() == "job.batch/once created"
    pod = until(lambda: job_pods(cluster, ns, "once"), "the Job's pod")[0]
    job = get_job(cluster, ns, "once")
    md = pod["metadata"]
    assert md["finalizers"] == [TRACKING_FINALIZER]
    assert md["generateName"] == "once-"
    assert md["ownerReferences"][0]["kind"] == "Job" and md["ownerReferences"][0][
        "uid"] == job["metadata"]["uid"]
    assert md["labels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
    assert until(lambda: get_job(cluster, ns, "once")["status"].get("active") == 1, "active")
    status = get_job(cluster, ns, "once")["status"]
    assert status["ready"] == 0 and status["terminating"] == 0 and status["startTime"]
    assert status["uncountedTerminatedPods"] == {}

    run_to_end(cluster, ns, pod, 0)
    ok(cluster, "-n", ns, "wait", "--for=condition=complete", "job/once", "--timeout=30s")
    job = get_job(cluster, ns, "once")
    assert conditions(job) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                               ("Complete", "True", "CompletionsReached")]
    assert job["status"]["succeeded"] == 1 and "active" not in job["status"]
    assert job["status"]["completionTime"]
    left = cluster.call(cluster.api.get("pods", ns, pod["metadata"]["name"]))
    assert TRACKING_FINALIZER not in (left["metadata"].get("finalizers") or [])
    reasons = until(lambda: [r for _, r, _ in events(cluster, ns, "once")
                             if r in ("SuccessfulCreate", "Completed")] == [
        "SuccessfulCreate", "Completed"] or None, "the Job's events")
    assert reasons
    table = ok(cluster, "-n", ns, "get", "jobs")
    assert table.splitlines()[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table.splitlines()[1].split()[:3] == ["once", "Complete", "1/1"]


def test_backoff_limit_fails_the_job(cluster: RunningCluster, ns: str) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "flaky"},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "demo:v1", "command": ["false"]}]}}}}
    out = kubectl(cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps(body))
    assert out.returncode == 0, out.stderr
    pod = until(lambda: job_pods(cluster, ns, "flaky"), "the Job's pod")[0]
    run_to_end(cluster, ns, pod, 1)
    ok(cluster, "-n", ns, "wait", "--for=condition=failed", "job/flaky", "--timeout=30s")
    job = get_job(cluster, ns, "flaky")
    assert conditions(job) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                               ("Failed", "True", "BackoffLimitExceeded")]
    assert job["status"]["failed"] == 1 and "completionTime" not in job["status"]
    until(lambda: ("Warning", "BackoffLimitExceeded",
                   "Job has reached the specified backoff limit") in events(cluster, ns,
                                                                            "flaky"),
          "the BackoffLimitExceeded event")
    assert len(job_pods(cluster, ns, "flaky")) == 1  # no second attempt


def test_parallel_completions_and_a_retried_failure(cluster: RunningCluster, ns: str) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
            "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 2, "template": {
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "c", "image": "demo:v1"}]}}}}
    cluster.call(cluster.api.create(JOBS, ns, body))
    first = until(lambda: (p := job_pods(cluster, ns, "batch")) and len(p) == 2 and p,
                  "two pods")
    run_to_end(cluster, ns, first[0], 0)
    run_to_end(cluster, ns, first[1], 1)  # replaced after the 10 s back-off
    second = until(lambda: (p := [x for x in job_pods(cluster, ns, "batch")
                                  if x["status"].get("phase") not in ("Succeeded", "Failed")])
                   and len(p) == 2 and p, "the replacement and the third pod", timeout=40)
    job = get_job(cluster, ns, "batch")
    assert job["status"]["succeeded"] == 1 and job["status"]["failed"] == 1
    for pod in second:
        run_to_end(cluster, ns, pod, 0)
    ok(cluster, "-n", ns, "wait", "--for=condition=complete", "job/batch", "--timeout=30s")
    job = get_job(cluster, ns, "batch")
    assert (job["status"]["succeeded"], job["status"]["failed"]) == (3, 1)
    assert len(job_pods(cluster, ns, "batch")) == 4


def test_active_deadline_and_ttl_after_finished(cluster: RunningCluster, ns: str) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "slow"},
            "spec": {"activeDeadlineSeconds": 1, "ttlSecondsAfterFinished": 1, "template": {
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "c", "image": "demo:v1"}]}}}}
    cluster.call(cluster.api.create(JOBS, ns, body))
    until(lambda: job_pods(cluster, ns, "slow"), "the Job's pod")
    failed = until(lambda: ("Failed", "True", "DeadlineExceeded") in conditions(
        get_job(cluster, ns, "slow")) and get_job(cluster, ns, "slow"), "DeadlineExceeded")
    assert ("FailureTarget", "True", "DeadlineExceeded") in conditions(failed)

    def gone() -> bool:
        try:
            get_job(cluster, ns, "slow")
        except APIStatusError as exc:
            return exc.status == 404
        return False

    until(gone, "the TTL controller to delete the Job", timeout=30)
    until(lambda: not job_pods(cluster, ns, "slow"), "its pods to go with it")


def test_suspended_job_runs_nothing_until_resumed(cluster: RunningCluster, ns: str) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "later"},
            "spec": {"suspend": True, "template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}}
    cluster.call(cluster.api.create(JOBS, ns, body))
    until(lambda: ("Suspended", "True", "JobSuspended") in conditions(
        get_job(cluster, ns, "later")), "the Suspended condition")
    assert job_pods(cluster, ns, "later") == []
    ok(cluster, "-n", ns, "patch", "job", "later", "--type=merge", "-p",
       '{"spec":{"suspend":false}}')
    until(lambda: job_pods(cluster, ns, "later"), "a pod after resuming")
    assert ("Suspended", "False", "JobResumed") in conditions(get_job(cluster, ns, "later"))


def test_job_validation_as_upstream(cluster: RunningCluster, ns: str) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    out = kubectl(cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps(body))
    assert out.returncode != 0
    assert ('The Job "bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: '
            '"Always": supported values: "OnFailure", "Never"') in out.stderr
    ok(cluster, "-n", ns, "create", "job", "fixed", "--image=i")
    out = kubectl(cluster, "-n", ns, "set", "image", "job/fixed", "fixed=j")
    assert out.returncode != 0 and "spec.template: Invalid value" in out.stderr
    assert "field is immutable" in out.stderr


def test_cronjob_and_a_job_from_it(cluster: RunningCluster, ns: str) -> None:
    out = ok(cluster, "-n", ns, "create", "cronjob", "nightly", "--image=demo:v1",
             "--schedule=0 3 * * *", "--", "sh", "-c", "echo hi")
    assert out.strip() == "cronjob.batch/nightly created"
    cj = cluster.call(cluster.api.get("cronjobs.batch", ns, "nightly"))
    assert cj["spec"]["concurrencyPolicy"] == "Allow" and cj["spec"]["suspend"] is False
    assert (cj["spec"]["successfulJobsHistoryLimit"], cj["spec"]["failedJobsHistoryLimit"]) == (
        3, 1)
    table = ok(cluster, "-n", ns, "get", "cronjobs").splitlines()
    assert table[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                                "LAST", "SCHEDULE", "AGE"]
    assert table[1].split()[:8] == ["nightly", "0", "3", "*", "*", "*", "<none>", "False"]
    out = ok(cluster, "-n", ns, "create", "job", "now", "--from=cronjob/nightly")
    assert out.strip() == "job.batch/now created"
    job = get_job(cluster, ns, "now")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["sh", "-c", "echo hi"]
    until(lambda: job_pods(cluster, ns, "now"), "the pod of the Job made from the CronJob")
    bad = kubectl(cluster, "-n", ns, "create", "cronjob", "bad", "--image=i",
                  "--schedule=61 * * * *")
    assert bad.returncode != 0
    assert ('spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum '
            "(59): 61") in bad.stderr


HOOKED = Path(__file__).resolve().parent.parent / "data" / "charts" / "hooked"


def helm_install(cluster: RunningCluster, ns: str, release: str,
                 values: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """``helm install --wait`` in a thread (it blocks on the hook); the outcome lands in the
    returned dict as "release" or "error"."""
    cfg = helm.Configuration(namespace=ns, kubeconfig=str(cluster.kubeconfig))
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["release"] = asyncio.run(helm.Install(cfg).run(
                release, str(HOOKED), values=values, wait=True, timeout=60))
        except Exception as exc:  # the hook's failure, as Helm reports it
            outcome["error"] = str(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_helm_waits_for_a_pre_install_hook_job(cluster: RunningCluster, ns: str) -> None:
    thread, outcome = helm_install(cluster, ns, "app", {})
    pod = until(lambda: job_pods(cluster, ns, "app-setup"), "the hook Job's pod")[0]
    time.sleep(0.5)
    assert not outcome  # Helm is waiting for the hook
    settings, _ = cluster.call(cluster.api.list("configmaps", ns))
    assert "app-settings" not in [c["metadata"]["name"] for c in settings]  # not yet installed
    run_to_end(cluster, ns, pod, 0)
    thread.join(60)
    assert outcome["release"]["info"]["status"] == "deployed", outcome
    assert cluster.call(cluster.api.get("configmaps", ns, "app-settings"))["data"] == {
        "ready": "yes"}
    assert cluster.call(cluster.api.get("poddisruptionbudgets.policy", ns, "app"))

    def hook_deleted() -> bool:  # helm.sh/hook-delete-policy: hook-succeeded
        try:
            get_job(cluster, ns, "app-setup")
        except APIStatusError as exc:
            return exc.status == 404
        return False

    until(hook_deleted, "the succeeded hook Job to be deleted")


def test_helm_fails_the_install_when_its_hook_job_fails(cluster: RunningCluster,
                                                        ns: str) -> None:
    thread, outcome = helm_install(cluster, ns, "broken", {"command": ["false"]})
    pod = until(lambda: job_pods(cluster, ns, "broken-setup"), "the hook Job's pod")[0]
    run_to_end(cluster, ns, pod, 1)
    thread.join(60)
    assert "error" in outcome, outcome
    assert "failed pre-install" in outcome["error"], outcome
    assert f"Job/{ns}/broken-setup not ready. status: Failed" in outcome["error"], outcome
    assert ("Failed", "True", "BackoffLimitExceeded") in conditions(
        get_job(cluster, ns, "broken-setup"))  # kept: the hook did not succeed


def test_a_cronjob_runs_on_its_schedule(cluster: RunningCluster, ns: str) -> None:
    ok(cluster, "-n", ns, "create", "cronjob", "tick", "--image=demo:v1", "--schedule=@every 1s",
       "--", "true")
    cj = until(lambda: (c := cluster.call(cluster.api.get("cronjobs.batch", ns, "tick")))
               .get("status", {}).get("active") and c, "the first scheduled Job", 20)
    ref = cj["status"]["active"][0]
    job = get_job(cluster, ns, ref["name"])
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in job["metadata"]["annotations"]
    assert cj["status"]["lastScheduleTime"]
    pod = until(lambda: job_pods(cluster, ns, ref["name"]), "the scheduled Job's pod")[0]
    run_to_end(cluster, ns, pod, 0)
    until(lambda: cluster.call(cluster.api.get("cronjobs.batch", ns, "tick"))["status"].get(
        "lastSuccessfulTime"), "the CronJob to see its Job complete")
    until(lambda: ("Normal", "SawCompletedJob", f"Saw completed job: {ref['name']}, status: "
                   "Complete") in events(cluster, ns, "tick"), "the SawCompletedJob event")
    ok(cluster, "-n", ns, "patch", "cronjob", "tick", "--type=merge", "-p",
       '{"spec":{"suspend":true}}')
