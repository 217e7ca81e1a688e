"""Building AdmissionReview requests for Deployments, as the API server sends them."""

from __future__ import annotations

import copy
import json
from typing import Any

from webhook.spec.hashing import template_hash
from webhook.spec.names import ENABLED_LABEL, HASH_LABEL, STATUS

STEPS = """\
- setWeight: 10
- pause: {duration: 30s}
- setHeaderRoute:
    name: beta-testers
    match:
    - headerName: x-beta
      headerValue: {exact: "true"}
- setWeight: 50
- pause: {}
"""


def deployment(
    *,
    name: str = "web",
    namespace: str = "shop",
    image: str = "registry.example.com/shop/web:1.4.2",
    enabled: bool = True,
    annotations: dict[str, str] | None = None,
    paused: bool | None = None,
    status: dict[str, Any] | None = None,
    hash_label: str | None = None,
) -> dict[str, Any]:
    """A realistic Deployment (defaults applied, as admission sees it), ~2 KB of JSON."""
    labels = {"app": name, "team": "checkout"}
    if enabled:
        labels[ENABLED_LABEL] = "true"
    ann = {
        "canarist.io/steps": STEPS,
        "canarist.io/traffic-router": "proxy",
        "canarist.io/proxy-hosts": f"{name}.{namespace}.example.com",
        "deployment.kubernetes.io/revision": "7",
    }
    if annotations is not None:
        ann = annotations
    if status is not None:
        ann = {**ann, STATUS: json.dumps(status, sort_keys=True, separators=(",", ":"))}
    pod_labels = {"app": name, "team": "checkout"}
    if hash_label is not None:
        pod_labels[HASH_LABEL] = hash_label
    spec: dict[str, Any] = {
        "replicas": 4,
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "selector": {"matchLabels": {"app": name}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [
                            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                        ],
                        "env": [
                            {"name": "LOG_LEVEL", "value": "info"},
                            {"name": "DB_HOST", "value": "postgres.shop.svc"},
                            {
                                "name": "POD_NAME",
                                "valueFrom": {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}
                                },
                            },
                        ],
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "256Mi"},
                            "limits": {"memory": "512Mi"},
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                            "periodSeconds": 5,
                            "timeoutSeconds": 1,
                            "successThreshold": 1,
                            "failureThreshold": 3,
                        },
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }
                ],
                "volumes": [
                    {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}}
                ],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
    }
    if paused is not None:
        spec["paused"] = paused
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "6f1d7c1e-8a0b-4c53-9a7e-2c8f0e1d5b3a",
            "resourceVersion": "48213",
            "generation": 7,
            "labels": labels,
            "annotations": ann,
        },
        "spec": spec,
    }


def with_image(obj: dict[str, Any], image: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return out


def hash_of(obj: dict[str, Any]) -> str:
    return template_hash(obj["spec"]["template"])


def review(
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    *,
    uid: str = "0f4c9b1e-6c2a-4a5e-9d1b-2f0d3c7a9e11",
    kind: tuple[str, str, str] = ("apps", "v1", "Deployment"),
    resource: str = "deployments",
    sub_resource: str = "",
    name: str | None = None,
    namespace: str = "shop",
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview v1 request as kube-apiserver sends it."""
    group, version, kind_name = kind
    meta = (obj or old or {}).get("metadata") or {}
    options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(
        operation, "DeleteOptions"
    )
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind_name},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind_name},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": meta.get("name", "") if name is None else name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "alice", "uid": "u-1", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if operation != "CONNECT":
        request["options"] = {
            "apiVersion": "meta.k8s.io/v1",
            "kind": options_kind,
            "fieldManager": "kubectl-client-side-apply",
        }
    if sub_resource:
        request["subResource"] = sub_resource
        request["requestSubResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
