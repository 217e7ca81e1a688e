"""Helpers for tests of pods that run canarist's image on the embedded cluster: pod bodies,
waiting for a pod's status, reading its events and logs (through kubectl, as a user would)."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from webhook.cluster.kubelet.isolation import Isolation, detect
from webhook.cluster.runtime import RunningCluster

IMAGE = "ghcr.io/canarist/canarist:test"

# Whether pods get their own namespaces (needs root on Linux), and the mark of tests needing it.
NAMESPACES = detect()[0] is Isolation.NAMESPACES
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason=f"needs root on Linux: {detect()[1]}")

_ids = itertools.count()
Pod = dict[str, Any]


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
                          capture_output=True, text=True, input=stdin, timeout=timeout,
                          check=False)


def new_namespace(cluster: RunningCluster, prefix: str = "kp") -> str:
    ns = f"{prefix}{next(_ids)}-{int(time.time() * 1000) % 100000}"
    cluster.call(cluster.api.create("namespaces", None, {"metadata": {"name": ns}}))
    return ns


def python_pod(name: str, code: str, *, policy: str = "Never", **container: Any) -> Pod:
    """A pod whose one container runs ``python -c code`` from canarist's image."""
    c: dict[str, Any] = {"name": "app", "image": IMAGE, "command": ["python", "-c", code],
                         **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"restartPolicy": policy, "containers": [c]}}


def create(cluster: RunningCluster, ns: str, obj: dict[str, Any], resource: str = "pods"
           ) -> dict[str, Any]:
    return cluster.call(cluster.api.create(resource, ns, obj))


def get_pod(cluster: RunningCluster, ns: str, name: str) -> Pod:
    return cluster.call(cluster.api.get("pods", ns, name))


def wait_pod(cluster: RunningCluster, ns: str, name: str, predicate: Callable[[Pod], bool],
             limit: float = 60.0, what: str = "") -> Pod:
    deadline = time.monotonic() + limit
    while True:
        pod = get_pod(cluster, ns, name)
        if predicate(pod):
            return pod
        if time.monotonic() > deadline:
            raise AssertionError(f"pod {ns}/{name}: {what or 'condition'} not reached in "
                                 f"{limit:g}s; status {json.dumps(pod.get('status'))[:2000]}")
        time.sleep(0.1)


def phase_is(*phases: str) -> Callable[[Pod], bool]:
    return lambda p: (p.get("status") or {}).get("phase") in phases


def is_ready(pod: Pod) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions", []))


def container_status(pod: Pod, index: int = 0) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[index])


def waiting_reason(pod: Pod) -> str:
    return str(container_status(pod).get("state", {}).get("waiting", {}).get("reason", ""))


def events(cluster: RunningCluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    items, _ = cluster.call(cluster.api.list("events", ns))
    return [(e["type"], e["reason"], e["message"]) for e in
            sorted(items, key=lambda e: e["metadata"]["name"])
            if e["involvedObject"]["name"] == name]


def wait_event(cluster: RunningCluster, ns: str, name: str, reason: str,
               contains: str = "", limit: float = 30.0) -> tuple[str, str, str]:
    deadline = time.monotonic() + limit
    while True:
        for ev in events(cluster, ns, name):
            if ev[1] == reason and contains in ev[2]:
                return ev
        if time.monotonic() > deadline:
            raise AssertionError(f"no {reason} event with {contains!r} for {ns}/{name}: "
                                 f"{events(cluster, ns, name)}")
        time.sleep(0.1)


def logs(cluster: RunningCluster, ns: str, name: str, *args: str) -> str:
    out = kubectl(cluster, "-n", ns, "logs", name, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def json_log(cluster: RunningCluster, ns: str, name: str) -> dict[str, Any]:
    """The last line of the pod's log, a JSON document the process printed."""
    lines = [ln for ln in logs(cluster, ns, name).splitlines() if ln.startswith("{")]
    assert lines, f"no JSON line in the log of {ns}/{name}"
    return dict(json.loads(lines[-1]))
