"""Pod status in the shapes the kubelet writes (``generateAPIPodStatus``), as a pure function.

Conditions in the kubelet's order — PodReadyToStartContainers, Initialized, Ready,
ContainersReady, PodScheduled — each ``{type, status, lastProbeTime: null, lastTransitionTime}``
with the transition time kept while the status does not change; ``Ready``/``ContainersReady``
False carry reason ``ContainersNotReady`` and the list of unready containers. Container statuses
have ``state`` (waiting/running), ``ready``, ``started``, ``restartCount``, image and ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.cluster.controllers.objects import format_time


@dataclass(frozen=True)
class ContainerState:
    name: str
    image: str
    running_since: float | None = None  # None: still waiting
    ready: bool = False
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""


def container_id(pod_uid: str, name: str) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}".encode()).hexdigest()


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
    prev = previous.get(ctype)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": since or now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_status(
    pod: Mapping[str, Any], containers: Sequence[ContainerState], *, pod_ip: str,
    host_ip: str, started: float, now: float,
) -> dict[str, Any]:
    """The full ``status`` of a pod whose containers are in ``containers``."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    previous = {str(c.get("type")): c for c in old.get("conditions") or ()}
    stamp = format_time(now)
    unready = [c.name for c in containers if not c.ready]
    all_running = all(c.running_since is not None for c in containers)
    message = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
    reason = "ContainersNotReady" if unready else ""
    conditions = [
        _condition("PodReadyToStartContainers", True, stamp, previous),
        _condition("Initialized", True, stamp, previous),
        _condition("Ready", not unready, stamp, previous, reason, message),
        _condition("ContainersReady", not unready, stamp, previous, reason, message),
        _condition("PodScheduled", True, stamp, previous),
    ]
    statuses = []
    for c in containers:
        entry: dict[str, Any] = {
            "name": c.name, "image": c.image, "imageID": "", "ready": c.ready,
            "restartCount": 0, "started": c.running_since is not None, "lastState": {},
        }
        if c.running_since is not None:
            entry["state"] = {"running": {"startedAt": format_time(c.running_since)}}
            entry["containerID"] = container_id(str(md.get("uid", "")), c.name)
        else:
            waiting: dict[str, Any] = {"reason": c.waiting_reason}
            if c.waiting_message:
                waiting["message"] = c.waiting_message
            entry["state"] = {"waiting": waiting}
        statuses.append(entry)
    status: dict[str, Any] = {
        "phase": "Running" if containers and all_running else "Pending",
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": format_time(started),
        "containerStatuses": statuses,
        "qosClass": qos_class(spec),
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status
