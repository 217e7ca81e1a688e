"""The bootstrap ClusterRoles and ClusterRoleBindings kube-apiserver creates at start
(cluster-admin, admin/edit/view by aggregation, system:discovery, system:basic-user,
system:public-info-viewer, ...), from ``bootstrap.json``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from webhook.cluster.auth.rbac.aggregation import aggregated_rules
from webhook.cluster.auth.rbac.policy import GROUP
from webhook.cluster.meta import clone

_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
API_VERSION = f"{GROUP}/v1"


@cache
def _policy() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name("bootstrap.json").read_text())
    return data


def cluster_roles() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles, aggregated ones already holding their rules."""
    roles = []
    for spec in _policy()["roles"]:
        role: dict[str, Any] = {
            "apiVersion": API_VERSION, "kind": "ClusterRole",
            "metadata": {"name": spec["name"], "labels": {**_LABELS, **spec.get("labels", {})},
                         "annotations": dict(_ANNOTATIONS)},
        }
        if "aggregationRule" in spec:
            role["aggregationRule"] = clone(spec["aggregationRule"])
        role["rules"] = clone(spec.get("rules", []))
        roles.append(role)
    for _ in range(len(roles)):  # edit aggregates view, admin aggregates edit: settle
        changed = False
        for role in roles:
            want = aggregated_rules(role, roles)
            if want is not None and want != role["rules"]:
                role["rules"], changed = want, True
        if not changed:
            break
    return roles


def cluster_role_bindings() -> list[dict[str, Any]]:
    return [{
        "apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
        "metadata": {"name": b["name"], "labels": dict(_LABELS),
                     "annotations": dict(_ANNOTATIONS)},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": b["role"]},
        "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": g} for g in b["groups"]],
    } for b in _policy()["bindings"]]
