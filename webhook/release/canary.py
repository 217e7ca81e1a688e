"""The canary Deployment ``<name>-canary``, built from the user's Deployment.

- the new pod template (stamped with ``rollouts-pod-template-hash: <canary hash>``);
- the user's selector narrowed by the canary hash, so its ReplicaSets never overlap the user's;
- an ownerReference to the user's Deployment (deleting it deletes the canary);
- the user's labels **without** the opt-in label (the canary is never released itself), plus
  ``canarist.io/canary-of: <name>``;
- never paused; replicas as the step asks.
"""

from __future__ import annotations

import copy
from typing import Any

from webhook.release.model import DeploymentView
from webhook.release.names import CANARY_OF_LABEL, ENABLED_LABEL, HASH_LABEL, MANAGED_BY_ANNOTATION
from webhook.routers.base import Owner

# Spec fields of the user's Deployment the canary keeps; everything else is canarist's.
_KEPT_SPEC = ("strategy", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds")


def canary_body(d: DeploymentView, replicas: int) -> dict[str, Any]:
    template = copy.deepcopy(dict(d.template))
    meta = template.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels[HASH_LABEL] = d.hash
    selector = copy.deepcopy(dict(d.selector))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = d.hash
    spec: dict[str, Any] = {
        k: copy.deepcopy(d.raw["spec"][k]) for k in _KEPT_SPEC if k in d.raw.get("spec", {})
    }
    spec.update({"replicas": replicas, "selector": selector, "template": template})
    user_labels = {k: v for k, v in d.labels.items() if k != ENABLED_LABEL}
    user_labels[CANARY_OF_LABEL] = d.name
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": d.canary_name,
            "namespace": d.namespace,
            "labels": user_labels,
            "annotations": {MANAGED_BY_ANNOTATION: d.name},
            "ownerReferences": [Owner(d.name, d.uid).reference()],
        },
        "spec": spec,
    }
