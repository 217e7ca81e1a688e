"""Pods, ReplicaSets and Deployments (pkg/registry/{core/pod,apps/replicaset,apps/deployment}).

Defaults of apps/v1 (k8s-semantics §1.12), generation rules (§3.4), the selector rules
(required, non-empty, matching the template labels, immutable) and a pod's graceful deletion.
"""

from __future__ import annotations

from typing import Any

from webhook.cluster.kinds.base import GEN_SPEC, GEN_SPEC_ANNOTATIONS, Strategy
from webhook.cluster.kinds.common import (
    forbidden,
    immutable,
    int_or_percent,
    invalid,
    not_supported,
    required,
    show,
)
from webhook.cluster.kinds.podspec import (
    default_pod_spec,
    default_template,
    validate_pod_spec,
    validate_template,
)
from webhook.cluster.selectors import SelectorError, selector_from_object
from webhook.cluster.status import Cause

_NOT_READY_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
)
_PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
    "or '93%', regex used for validation is '[0-9]+%')"
)


def _nonneg(spec: dict[str, Any], key: str, path: str) -> list[Cause]:
    v = spec.get(key)
    if isinstance(v, int) and v < 0:
        return [invalid(f"{path}.{key}", v, "must be greater than or equal to 0")]
    return []


def validate_selector_and_template(spec: Any, kind: str) -> list[Cause]:
    """selector required, non-empty, valid and matching spec.template.metadata.labels."""
    if not isinstance(spec, dict):
        return [required("spec")]
    out: list[Cause] = []
    sel = spec.get("selector")
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") or {}
    if sel is None:
        out.append(required("spec.selector"))
    elif not sel.get("matchLabels") and not sel.get("matchExpressions"):
        out.append(invalid("spec.selector", sel, f"empty selector is invalid for {kind}"))
    else:
        try:
            selector = selector_from_object(sel)
        except SelectorError as exc:
            out.append(invalid("spec.selector", sel, str(exc)))
        else:
            if not selector.matches(labels):
                out.append(invalid("spec.template.metadata.labels", labels,
                                   "`selector` does not match template `labels`"))
    out += validate_template(template, "spec.template")
    out += _nonneg(spec, "replicas", "spec") + _nonneg(spec, "minReadySeconds", "spec")
    return out


class PodStrategy(Strategy):
    return_deleted_object = True

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        tolerations = spec.setdefault("tolerations", [])
        if isinstance(tolerations, list):
            keys = {t.get("key") for t in tolerations if isinstance(t, dict)}
            for t in _NOT_READY_TOLERATIONS:
                if t["key"] not in keys:
                    tolerations.append(dict(t))

    def prepare_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": _qos(obj.get("spec") or {})}

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return super().validate(obj) + validate_pod_spec(obj.get("spec"), "spec")

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        spec, old_spec = dict(new.get("spec") or {}), old.get("spec") or {}
        # Mutable: images, activeDeadlineSeconds, tolerations (additions), grace period.
        for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
            spec[key] = old_spec.get(key)
            if spec[key] is None:
                spec.pop(key)
        for key in ("containers", "initContainers"):
            new_list, old_list = spec.get(key) or [], old_spec.get(key) or []
            if len(new_list) == len(old_list):
                spec[key] = [dict(n, image=o.get("image")) if isinstance(n, dict) else n
                             for n, o in zip(new_list, old_list, strict=True)]
                if not old_list:
                    spec.pop(key, None)
        if spec != old_spec:
            out.append(forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)",
            ))
        return out

    def grace_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        spec = obj.get("spec") or {}
        period = requested if requested is not None else int(
            spec.get("terminationGracePeriodSeconds") or 0)
        if not spec.get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            return 0
        return max(0, period)


def _qos(spec: dict[str, Any]) -> str:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    res = [c.get("resources") or {} for c in containers]
    if not any(r.get("limits") or r.get("requests") for r in res):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k) is not None
        and (r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k))
        == (r.get("limits") or {}).get(k)
        for r in res for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


class ReplicaSetStrategy(Strategy):
    generation = GEN_SPEC

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            default_template(spec.get("template"))

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return super().validate(obj) + validate_selector_and_template(obj.get("spec"), "replicaset")

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return super().validate_update(new, old) + _selector_immutable(new, old)


def _selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    sel, old_sel = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    return [immutable("spec.selector", sel)] if sel != old_sel else []


class DeploymentStrategy(Strategy):
    generation = GEN_SPEC_ANNOTATIONS

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_template(spec.get("template"))

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        spec = obj.get("spec")
        out = super().validate(obj) + validate_selector_and_template(spec, "deployment")
        if not isinstance(spec, dict):
            return out
        out += _nonneg(spec, "revisionHistoryLimit", "spec")
        out += _validate_strategy(spec.get("strategy") or {})
        pds, mrs = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
        if isinstance(pds, int) and isinstance(mrs, int) and pds <= mrs:
            out.append(invalid("spec.progressDeadlineSeconds", pds,
                               "must be greater than minReadySeconds"))
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return super().validate_update(new, old) + _selector_immutable(new, old)


def _validate_strategy(strategy: dict[str, Any]) -> list[Cause]:
    kinds = ["Recreate", "RollingUpdate"]
    t = strategy.get("type")
    if t not in kinds:
        return [not_supported("spec.strategy.type", t, kinds)]
    ru = strategy.get("rollingUpdate")
    if t == "Recreate":
        if ru is not None:
            return [forbidden("spec.strategy.rollingUpdate",
                              "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if not isinstance(ru, dict):
        return []
    out: list[Cause] = []
    parsed: dict[str, tuple[int, bool]] = {}
    for key in ("maxUnavailable", "maxSurge"):
        path = f"spec.strategy.rollingUpdate.{key}"
        v = ru.get(key)
        p = int_or_percent(v)
        if p is None:
            out.append(invalid(path, v, _PERCENT_MSG))
            continue
        if p[0] < 0:
            out.append(invalid(path, v, "must be greater than or equal to 0"))
        if key == "maxUnavailable" and p[1] and p[0] > 100:
            out.append(invalid(path, v, "must not be greater than 100%"))
        parsed[key] = p
    if (len(parsed) == 2 and parsed["maxUnavailable"][0] == 0 and parsed["maxSurge"][0] == 0):
        out.append(invalid("spec.strategy.rollingUpdate.maxUnavailable", ru["maxUnavailable"],
                           "may not be 0 when `maxSurge` is 0"))
    return out


__all__ = ["DeploymentStrategy", "PodStrategy", "ReplicaSetStrategy", "show"]
