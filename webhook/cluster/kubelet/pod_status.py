"""Pod status in the shapes the kubelet writes (``generateAPIPodStatus``), as a pure function.

Conditions in the kubelet's order — PodReadyToStartContainers, Initialized, Ready,
ContainersReady, PodScheduled — each ``{type, status, lastProbeTime: null, lastTransitionTime}``
with the transition time kept while the status does not change; ``Ready``/``ContainersReady``
False carry reason ``ContainersNotReady`` and the list of unready containers (``PodCompleted``
once the pod succeeded), ``Initialized`` False ``ContainersNotInitialized``. Container statuses
have ``state`` (waiting/running/terminated), ``lastState``, ``ready``, ``started``,
``restartCount``, image and ids. The phase is ``getPhase``'s (pkg/kubelet/kubelet_pods.go).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.objects import format_time


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    message: str = ""
    container_id: str = ""

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exitCode": self.exit_code, "reason": self.reason,
                               "startedAt": format_time(self.started_at),
                               "finishedAt": format_time(self.finished_at)}
        if self.message:
            out["message"] = self.message
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass(frozen=True)
class ContainerState:
    name: str
    image: str
    running_since: float | None = None  # running; else terminated, else waiting
    ready: bool = False
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    restart_count: int = 0
    started: bool | None = None  # startup probe passed (None: running means started)
    container_id: str = ""


def container_id(pod_uid: str, name: str, instance: int = 0) -> str:
    seed = f"{pod_uid}/{name}" if instance == 0 else f"{pod_uid}/{name}/{instance}"
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def qos_class(spec: Mapping[str, Any]) -> str:
    """``GetPodQOS``: no requests/limits anywhere -> BestEffort; cpu and memory limits equal to
    requests in every container -> Guaranteed; otherwise Burstable."""
    containers = list(spec.get("containers") or ())
    resources = [c.get("resources") or {} for c in containers]
    if not any((r.get("requests") or r.get("limits")) for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for res in ("cpu", "memory"):
            if res not in limits or str(requests.get(res, limits[res])) != str(limits[res]):
                return "Burstable"
    return "Guaranteed"


def _condition(ctype: str, ok: bool, now: str, previous: Mapping[str, Mapping[str, Any]],
               reason: str = "", message: str = "") -> dict[str, Any]:
    status = "True" if ok else "False"
    prev = previous.get(ctype) or {}
    since = prev.get("lastTransitionTime") if prev.get("status") == status else None
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": since or now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _init_counts(init: Sequence[ContainerState]) -> tuple[int, int]:
    pending = failed = 0
    for c in init:
        if c.running_since is not None:
            pending += 1
        elif c.terminated is not None:
            failed += c.terminated.exit_code != 0
        elif c.last_terminated is not None:
            failed += c.last_terminated.exit_code != 0
        else:
            pending += 1
    return pending, failed


def pod_phase(restart_policy: str, containers: Sequence[ContainerState],
              init: Sequence[ContainerState] = (), *, terminal: bool = False) -> str:
    """``getPhase``: from the containers' states and the restart policy."""
    pending_init, failed_init = _init_counts(init)
    running = waiting = stopped = succeeded = 0
    for c in containers:
        if c.running_since is not None:
            running += 1
        elif c.terminated is not None:
            stopped += 1
            succeeded += c.terminated.exit_code == 0
        elif c.last_terminated is not None:
            stopped += 1
        else:
            waiting += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


def _container_status(c: ContainerState, pod_uid: str) -> dict[str, Any]:
    started = c.started if c.started is not None else c.running_since is not None
    entry: dict[str, Any] = {
        "name": c.name, "image": c.image, "imageID": "", "ready": c.ready,
        "restartCount": c.restart_count, "started": bool(started and c.running_since),
        "lastState": ({"terminated": c.last_terminated.to_api()} if c.last_terminated
                      else {}),
    }
    cid = c.container_id or container_id(pod_uid, c.name, c.restart_count)
    if c.running_since is not None:
        entry["state"] = {"running": {"startedAt": format_time(c.running_since)}}
        entry["containerID"] = cid
    elif c.terminated is not None:
        entry["state"] = {"terminated": c.terminated.to_api()}
        if c.terminated.container_id:
            entry["containerID"] = c.terminated.container_id
    else:
        waiting: dict[str, Any] = {"reason": c.waiting_reason}
        if c.waiting_message:
            waiting["message"] = c.waiting_message
        entry["state"] = {"waiting": waiting}
    return entry


def pod_status(
    pod: Mapping[str, Any], containers: Sequence[ContainerState], *, pod_ip: str,
    host_ip: str, started: float, now: float, init: Sequence[ContainerState] = (),
    sandbox_ready: bool = True, terminal: bool = False,
) -> dict[str, Any]:
    """The full ``status`` of a pod whose containers are in ``containers``."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    uid = str(md.get("uid", ""))
    previous = {str(c.get("type")): c for c in old.get("conditions") or ()}
    stamp = format_time(now)
    phase = pod_phase(str(spec.get("restartPolicy") or "Always"), containers, init,
                      terminal=terminal)
    unready = [c.name for c in containers if not c.ready]
    uninitialised = [c.name for c in init
                     if not (c.terminated is not None and c.terminated.exit_code == 0)]
    if phase == "Succeeded":
        reason, message = "PodCompleted", ""
    elif unready:
        reason, message = "ContainersNotReady", (
            f"containers with unready status: [{' '.join(unready)}]")
    else:
        reason = message = ""
    ready = not unready and phase != "Succeeded"
    init_message = (f"containers with incomplete status: [{' '.join(uninitialised)}]"
                    if uninitialised else "")
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, stamp, previous),
        _condition("Initialized", not uninitialised, stamp, previous,
                   "ContainersNotInitialized" if uninitialised else "", init_message),
        _condition("Ready", ready, stamp, previous, reason, message),
        _condition("ContainersReady", ready, stamp, previous, reason, message),
        _condition("PodScheduled", True, stamp, previous),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": format_time(started),
        "containerStatuses": [_container_status(c, uid) for c in containers],
        "qosClass": qos_class(spec),
    }
    if init:
        status["initContainerStatuses"] = [_container_status(c, uid) for c in init]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status
