"""Jobs and their pods as the API and a kubelet leave them, for the Job controller's tests."""

from __future__ import annotations

import itertools
from typing import Any

from webhook.cluster.controllers.objects import format_time
from webhook.cluster.kinds.batch import TRACKING_FINALIZER, JobStrategy
from webhook.cluster.resources import ResourceRegistry

T0 = 1_800_000_000.0
_uids = itertools.count(1)


def job(name: str = "j", **spec: Any) -> dict[str, Any]:
    """A Job as the API stores it (defaults applied, selector generated)."""
    rt = ResourceRegistry().get("jobs.batch")
    assert rt is not None
    strat = JobStrategy(rt)
    status = spec.pop("status", {})
    template_spec = spec.pop("pod_spec", {"containers": [{"name": "c", "image": "demo:v1"}],
                                          "restartPolicy": "Never"})
    obj: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": name, "namespace": "ns", "uid": f"job-{name}", "generation": 1,
        "creationTimestamp": format_time(T0)},
        "spec": {"template": {"spec": template_spec}, **spec}}
    strat.default(obj)
    strat.prepare_create(obj)
    obj["status"] = status
    assert not strat.validate(obj), strat.validate(obj)
    return obj


def pod(j: dict[str, Any], phase: str = "Running", *, ready: bool = False, index: int = -1,
        finalizer: bool = True, deleting: bool = False, restarts: int = 0, exit_code: int = 0,
        finished: float = T0 + 5, created: float = T0) -> dict[str, Any]:
    """A pod of ``j`` with the status a kubelet writes for ``phase``."""
    n = next(_uids)
    md: dict[str, Any] = {
        "name": f"{j['metadata']['name']}-{n}", "namespace": "ns", "uid": f"pod-{n}",
        "resourceVersion": str(n), "creationTimestamp": format_time(created),
        "labels": dict(j["spec"]["template"]["metadata"]["labels"]),
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                             "name": j["metadata"]["name"], "uid": j["metadata"]["uid"],
                             "controller": True, "blockOwnerDeletion": True}]}
    if finalizer:
        md["finalizers"] = [TRACKING_FINALIZER]
    if deleting:
        md["deletionTimestamp"] = format_time(T0 + 6)
    if index >= 0:
        md["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    state: dict[str, Any]
    if phase in ("Succeeded", "Failed"):
        code = exit_code if phase == "Failed" or exit_code else 0
        code = code or (1 if phase == "Failed" else 0)
        state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                "startedAt": format_time(T0 + 1),
                                "finishedAt": format_time(finished)}}
    elif phase == "Running":
        state = {"running": {"startedAt": format_time(T0 + 1)}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    ready_cond = "True" if ready and phase == "Running" else "False"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": "canarist-node", **j["spec"]["template"]["spec"]},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": ready_cond,
                                       "lastTransitionTime": format_time(finished)}],
                       "containerStatuses": [{"name": "c", "ready": ready_cond == "True",
                                              "restartCount": restarts, "state": state}]}}
