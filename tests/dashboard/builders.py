"""Objects as the dashboard's cache holds them (through ``compact``), for the pure tests."""

from __future__ import annotations

import json
from typing import Any

from webhook.dashboard import compact
from webhook.spec.names import CANARY_OF_LABEL, ENABLED_LABEL, HASH_LABEL, HISTORY, STATUS


def deployment(name: str = "web", ns: str = "shop", *, status: dict[str, Any] | None = None,
               template: str = "bbb222", history: str | None = None,
               annotations: dict[str, str] | None = None, uid: str = "uid-web",
               replicas: int = 4) -> dict[str, Any]:
    ann = dict(annotations or {})
    if status is not None:
        ann[STATUS] = json.dumps(status)
    if history is not None:
        ann[HISTORY] = history
    return compact.deployment({
        "metadata": {"namespace": ns, "name": name, "uid": uid, "resourceVersion": "7",
                     "labels": {ENABLED_LABEL: "true", "app": name},
                     "annotations": dict(ann, **{"kubectl.kubernetes.io/last-applied-"
                                                 "configuration": "{...}"})},
        "spec": {"replicas": replicas, "template": {
            "metadata": {"labels": {HASH_LABEL: template, "app": name}},
            "spec": {"containers": [{"name": "app", "image": "demo:v2", "env": []}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas - 1,
                   "availableReplicas": replicas - 1},
    })


def canary(owner: str = "web", ns: str = "shop", *, template: str = "bbb222",
           uid: str = "uid-canary") -> dict[str, Any]:
    return compact.deployment({
        "metadata": {"namespace": ns, "name": f"{owner}-canary", "uid": uid,
                     "labels": {CANARY_OF_LABEL: owner}, "ownerReferences": [{"uid": "uid-web"}]},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {HASH_LABEL: template}},
                                             "spec": {"containers": [{"name": "app",
                                                                      "image": "demo:v2"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
    })


def replica_set(name: str, owner_uid: str, hash_: str, revision: int, replicas: int,
                ready: int, uid: str = "") -> dict[str, Any]:
    return compact.replica_set({
        "metadata": {"name": name, "namespace": "shop", "uid": uid or f"uid-{name}",
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "labels": {HASH_LABEL: hash_, "pod-template-hash": f"p{hash_}"},
                     "ownerReferences": [{"uid": owner_uid}]},
        "spec": {"replicas": replicas, "template": {
            "metadata": {"labels": {HASH_LABEL: hash_}},
            "spec": {"containers": [{"name": "app", "image": f"demo:{hash_}"}]}}},
        "status": {"readyReplicas": ready, "availableReplicas": ready},
    })


def pod(name: str, rs_uid: str, *, ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return compact.pod({
        "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}",
                     "ownerReferences": [{"uid": rs_uid}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"restartCount": restarts}]},
    })
