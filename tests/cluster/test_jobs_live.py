"""Jobs whose pods are real processes (canarist's image) on the embedded cluster: the node runs
them to their exit code, the Job controller counts it. A command that exits 0 completes the
Job; one that exits non-zero is retried after upstream's back-off (10 s, then 20 s) until
``backoffLimit``, then the Job fails; a Helm ``pre-install`` hook Job holds the install until
it completes and is deleted as its ``hook-delete-policy`` says, or fails the install."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import until
from tests.cluster.helm_world import HelmWorld
from tests.cluster.podkit import IMAGE, kubectl, logs, new_namespace
from webhook.cluster.kubelet.isolation import Isolation, detect
from webhook.cluster.meta import parse_time
from webhook.cluster.runtime import RunningCluster
from webhook.errors import APIStatusError

pytestmark = pytest.mark.skipif(
    detect()[0] is not Isolation.NAMESPACES,
    reason=f"pods mount their ServiceAccount token: needs root on Linux ({detect()[1]})")

HOOKED = Path(__file__).resolve().parent.parent / "data" / "charts" / "hooked"


def ok(cluster: RunningCluster, *args: str) -> str:
    out = kubectl(cluster, *args)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def job(cluster: RunningCluster, ns: str, name: str) -> dict[str, Any] | None:
    try:
        got: dict[str, Any] = cluster.call(cluster.api.get("jobs.batch", ns, name))
    except APIStatusError as exc:
        if exc.status == 404:
            return None
        raise
    return got


def job_pods(cluster: RunningCluster, ns: str, name: str) -> list[dict[str, Any]]:
    items, _ = cluster.call(cluster.api.list(
        "pods", ns, label_selector=f"batch.kubernetes.io/job-name={name}"))
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"])


def conditions(obj: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(c["type"], c.get("reason", "")) for c in
            ((obj or {}).get("status") or {}).get("conditions") or [] if c["status"] == "True"]


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]
    return dict(state.get("terminated") or {})


def test_a_job_whose_command_exits_0_completes(embedded_cluster: RunningCluster) -> None:
    ns = new_namespace(embedded_cluster, "jl")
    out = ok(embedded_cluster, "-n", ns, "create", "job", "certs", f"--image={IMAGE}", "--",
             "canarist", "certs", "generate", "--service", "web", "--namespace", ns, "--out",
             "/tmp/certs")
    assert out.strip() == "job.batch/certs created"
    ok(embedded_cluster, "-n", ns, "wait", "--for=condition=complete", "job/certs",
       "--timeout=60s")
    done = job(embedded_cluster, ns, "certs")
    assert conditions(done) == [("SuccessCriteriaMet", "CompletionsReached"),
                                ("Complete", "CompletionsReached")]
    assert done is not None and done["status"]["succeeded"] == 1
    [pod] = job_pods(embedded_cluster, ns, "certs")
    assert pod["status"]["phase"] == "Succeeded"
    assert (terminated(pod)["exitCode"], terminated(pod)["reason"]) == (0, "Completed")
    assert "wrote /tmp/certs/tls.crt" in logs(embedded_cluster, ns, "job/certs")
    table = ok(embedded_cluster, "-n", ns, "get", "jobs").splitlines()
    assert table[1].split()[:3] == ["certs", "Complete", "1/1"]


@pytest.mark.slow
def test_a_failing_command_is_retried_with_back_off_then_fails_the_job(
        embedded_cluster: RunningCluster) -> None:
    ns = new_namespace(embedded_cluster, "jl")
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "broken"},
            "spec": {"backoffLimit": 2, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": IMAGE,
                                "args": ["validate", "-f", "/no/such/file"]}]}}}}
    out = kubectl(embedded_cluster, "-n", ns, "create", "-f", "-", stdin=json.dumps(body))
    assert out.returncode == 0, out.stderr
    ok(embedded_cluster, "-n", ns, "wait", "--for=condition=failed", "job/broken",
       "--timeout=90s")
    failed = job(embedded_cluster, ns, "broken")
    assert conditions(failed) == [("FailureTarget", "BackoffLimitExceeded"),
                                  ("Failed", "BackoffLimitExceeded")]
    assert failed is not None and failed["status"]["failed"] == 3
    pods = job_pods(embedded_cluster, ns, "broken")
    assert len(pods) == 3  # the first try and backoffLimit retries
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        assert (terminated(pod)["exitCode"], terminated(pod)["reason"]) == (2, "Error")
        assert logs(embedded_cluster, ns, pod["metadata"]["name"]) == (
            "canarist: cannot read /no/such/file: No such file or directory\n")
    # each retry waited out the back-off since the previous failure: 10 s, then 20 s
    gaps = [(parse_time(nxt["metadata"]["creationTimestamp"])
             - parse_time(terminated(prev)["finishedAt"])).total_seconds()
            for prev, nxt in itertools.pairwise(pods)]
    assert 9 <= gaps[0] < 19 and 19 <= gaps[1] < 35, gaps
    reasons = [e["reason"] for e in embedded_cluster.call(embedded_cluster.api.list(
        "events", ns, field_selector="involvedObject.name=broken"))[0]]
    assert reasons.count("SuccessfulCreate") == 3 and "BackoffLimitExceeded" in reasons


def test_a_pre_install_hook_job_gates_the_install_and_goes(
        embedded_cluster: RunningCluster) -> None:
    world = HelmWorld(embedded_cluster)
    ns = new_namespace(embedded_cluster, "hk")
    pending = world.install_in_background(
        "app", HOOKED, namespace=ns, timeout=90,
        values={"command": ["python", "-c", "import time; time.sleep(3); print('set up')"]})
    running = until(lambda: [p for p in job_pods(embedded_cluster, ns, "app-setup")
                             if p["status"].get("phase") == "Running"], "the hook's pod to run")
    assert running and not pending.done()
    assert world.kubectl("-n", ns, "get", "configmap", "app-settings").returncode != 0
    release = pending.result(90)
    assert release["info"]["status"] == "deployed"
    settings = embedded_cluster.call(embedded_cluster.api.get("configmaps", ns, "app-settings"))
    events, _ = embedded_cluster.call(embedded_cluster.api.list(
        "events", ns, field_selector="involvedObject.name=app-setup"))
    completed = [e for e in events if e["reason"] == "Completed"]
    assert completed and completed[0]["message"] == "Job completed"
    # created once the hook had completed (the Job and its pod are gone by now)
    assert (parse_time(settings["metadata"]["creationTimestamp"])
            >= parse_time(completed[0]["lastTimestamp"]))
    until(lambda: job(embedded_cluster, ns, "app-setup") is None,
          "the hook Job's deletion (hook-delete-policy: hook-succeeded)")
    until(lambda: not job_pods(embedded_cluster, ns, "app-setup"), "its pod to go with it")


def test_a_failing_pre_install_hook_job_fails_the_install(
        embedded_cluster: RunningCluster) -> None:
    world = HelmWorld(embedded_cluster)
    ns = new_namespace(embedded_cluster, "hk")
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        world.install("broken", HOOKED, namespace=ns, timeout=60,
                      values={"command": ["canarist", "validate", "-f", "/no/such/file"]})
    assert time.monotonic() - started < 60  # failed at once, not at the timeout
    message = str(failed.value)
    assert "failed pre-install" in message
    assert f"Job/{ns}/broken-setup not ready. status: Failed" in message
    assert "canarist: cannot read /no/such/file" in message  # the hook pod's log, attached
    assert ("Failed", "BackoffLimitExceeded") in conditions(job(embedded_cluster, ns,
                                                                "broken-setup"))
    assert world.kubectl("-n", ns, "get", "configmap", "broken-settings").returncode != 0
