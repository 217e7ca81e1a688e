"""The ``/scale`` subresource: autoscaling/v1 ``Scale`` views of Deployments, ReplicaSets and
custom resources with a scale subresource (k8s-semantics §3.5)."""

from __future__ import annotations

from typing import Any

from webhook.cluster.meta import get_path, metadata, set_path
from webhook.cluster.resources import ResourceType
from webhook.cluster.selectors import SelectorError, selector_from_object


def _paths(rt: ResourceType) -> tuple[str, str, str]:
    if rt.scale_paths is not None:
        return rt.scale_paths
    return ".spec.replicas", ".status.replicas", ""


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    md = metadata(obj)
    spec_path, status_path, selector_path = _paths(rt)
    if rt.custom:
        raw = get_path(obj, selector_path) if selector_path else None
        selector = raw if isinstance(raw, str) else ""
    else:
        try:
            selector = str(selector_from_object(get_path(obj, ".spec.selector")))
        except SelectorError:
            selector = ""
    meta: dict[str, Any] = {
        k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in md
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": int(get_path(obj, spec_path) or 0)},
        "status": {"replicas": int(get_path(obj, status_path) or 0), "selector": selector},
    }


def scale_onto(rt: ResourceType, parent: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
    """``parent`` with the Scale's spec.replicas written to its replicas field."""
    set_path(parent, _paths(rt)[0], (scale.get("spec") or {}).get("replicas", 0))
    return parent
