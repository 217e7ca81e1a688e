"""Which webhooks a request goes to (apiserver's webhook matchers), as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.cluster.admission.attributes import Attributes
from webhook.cluster.selectors import SelectorError, selector_from_object

NEVER_INTERCEPTED = (
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
)


def _listed(value: str, allowed: Any) -> bool:
    return isinstance(allowed, list) and ("*" in allowed or value in allowed)


def resource_matches(pattern: str, resource: str, sub: str) -> bool:
    """``deployments`` main only, ``deployments/status``, ``deployments/*``, ``*/scale``,
    ``*`` (every main resource), ``*/*`` (everything)."""
    if pattern == "*/*":
        return True
    if pattern == "*":
        return not sub
    name, _, pat_sub = pattern.partition("/")
    if not pat_sub:
        return name == resource and not sub
    if not sub:
        return False
    return (name in ("*", resource)) and (pat_sub in ("*", sub))


def rule_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    rt = attrs.rt
    if not _listed(attrs.operation, rule.get("operations")):
        return False
    if not _listed(rt.group, rule.get("apiGroups")):
        return False
    versions = rule.get("apiVersions")
    if not _listed(attrs.version, versions) and not (
        isinstance(versions, list) and any(v in rt.versions for v in versions)
    ):
        return False
    if not any(resource_matches(str(p), rt.plural, attrs.subresource)
               for p in rule.get("resources") or []):
        return False
    scope = rule.get("scope", "*")
    if scope == "Cluster" and rt.namespaced:
        return False
    return not (scope == "Namespaced" and not rt.namespaced)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    try:
        return selector_from_object(selector).matches(labels)
    except SelectorError:
        return False


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not obj:
        return None
    md = obj.get("metadata")
    labels = md.get("labels") if isinstance(md, Mapping) else None
    return dict(labels) if isinstance(labels, Mapping) else {}


def webhook_matches(
    hook: Mapping[str, Any],
    attrs: Attributes,
    obj: Mapping[str, Any] | None,
    namespace_labels: Mapping[str, str] | None,
) -> bool:
    """Rules, then namespaceSelector, then objectSelector (object OR oldObject labels)."""
    if attrs.rt.key in NEVER_INTERCEPTED:
        return False
    if not any(rule_matches(r, attrs) for r in hook.get("rules") or []):
        return False
    ns_sel = hook.get("namespaceSelector")
    if ns_sel:
        if attrs.rt.key == "namespaces":
            labels = _labels(obj) if obj is not None else _labels(attrs.old)
            if not selector_matches(ns_sel, labels or {}):
                return False
        elif attrs.rt.namespaced and not selector_matches(ns_sel, namespace_labels or {}):
            return False
    obj_sel = hook.get("objectSelector")
    if obj_sel:
        candidates = [lb for lb in (_labels(obj), _labels(attrs.old)) if lb is not None]
        if not any(selector_matches(obj_sel, lb) for lb in candidates):
            return False
    return True
