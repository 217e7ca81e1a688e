"""A Rollout's ``canary:`` block pasted into ``canarist.io/steps``: keep the steps, and say where
every other field of it belongs on a Deployment.

People paste ``steps:`` with its neighbours (``maxSurge``, ``trafficRouting``...), or the whole
``canary:`` or ``strategy:`` block. The steps are read as if only the list had been pasted; each
other key is refused with the place it goes to (a field of the Deployment, or a canarist
annotation), or with why canarist has no such setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.spec import names as n
from webhook.spec.problems import Problems, at, show

# Argo Rollouts' spec.strategy.canary fields other than steps -> where they belong here.
WHERE: dict[str, str] = {
    "maxSurge": "belongs in the Deployment's spec.strategy.rollingUpdate.maxSurge "
    "(router none follows it between steps)",
    "maxUnavailable": "belongs in the Deployment's spec.strategy.rollingUpdate.maxUnavailable "
    "(router none follows it between steps)",
    "canaryService": f"belongs in the annotation {n.CANARY_SERVICE}",
    "stableService": f"belongs in the annotation {n.STABLE_SERVICE}",
    "trafficRouting": f"belongs in the annotation {n.TRAFFIC_ROUTER} and the router's options "
    f"(e.g. {n.ISTIO_VIRTUAL_SERVICE}; canarist convert writes them)",
    "analysis": f"belongs in the annotation {n.ANALYSIS}, with background: true",
    "dynamicStableScale": f"belongs in the annotation {n.DYNAMIC_STABLE_SCALE}",
    "scaleDownDelaySeconds": f"belongs in the annotation {n.SCALE_DOWN_DELAY} (e.g. 30s)",
    "abortScaleDownDelaySeconds": f"belongs in the annotation {n.ABORT_SCALE_DOWN_DELAY} "
    "(e.g. 30s)",
    "antiAffinity": "has no canarist counterpart: set affinity in the pod template",
    "canaryMetadata": "has no canarist counterpart: the canary's pods carry the template's "
    "labels plus rollouts-pod-template-hash",
    "stableMetadata": "has no canarist counterpart: the stable pods keep the template's labels",
    "pingPong": "has no canarist counterpart: canarist pins the stable Service by hash",
    "minPodsPerReplicaSet": "has no canarist counterpart: use setCanaryScale: {replicas: N}",
    "replicaProgressThreshold": "has no canarist counterpart",
    "scaleDownDelayRevisionLimit": "has no canarist counterpart: one canary runs at a time",
}
WRAPPERS = ("canary", "strategy")


def unwrap(raw: Any, path: str, problems: Problems) -> Any:
    """The step list of a pasted mapping (refusing its other keys), or ``raw`` unchanged."""
    if not isinstance(raw, Mapping):
        return raw
    outer = None
    while len(raw) == 1 and next(iter(raw)) in WRAPPERS and isinstance(
        raw[next(iter(raw))], Mapping
    ):
        wrapper = str(next(iter(raw)))
        outer = outer or (path, wrapper)
        path, raw = at(path, wrapper), raw[wrapper]
    if outer is not None:
        problems.add(
            at(*outer),
            f"paste only the list under spec.strategy.canary.steps, not the {outer[1]} block",
        )
    if "steps" not in raw:
        return raw
    for key in raw:
        if key == "steps":
            continue
        where = WHERE.get(str(key))
        text = (
            f"is not part of the steps: Argo's canary.{key} {where}"
            if where
            else f"unknown key {show(key)}: this annotation holds the list of steps only"
        )
        problems.add(at(path, str(key)), text)
    return raw["steps"]
