"""Registry behaviour of the four RBAC kinds: v1 defaults and upstream's validation
(pkg/apis/rbac/validation): rules need verbs and either resources with API groups or
non-resource URLs (cluster roles only); a binding's roleRef is fixed at creation; subjects
are Users, Groups (apiGroup rbac.authorization.k8s.io) or ServiceAccounts (apiGroup "")."""

from __future__ import annotations

from typing import Any, ClassVar

from webhook.cluster import status as st
from webhook.cluster.auth.rbac.policy import GROUP
from webhook.cluster.kinds.base import Strategy
from webhook.cluster.kinds.common import invalid, name_problems, not_supported, required
from webhook.cluster.selectors import SelectorError, selector_from_object
from webhook.cluster.status import Cause

SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]


def validate_rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(rule, dict):
        return [invalid(path, rule, "must be an object")]
    out: list[Cause] = []
    if not rule.get("verbs"):
        out.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs")
    if urls:
        if namespaced:
            out.append(invalid(f"{path}.nonResourceURLs", urls,
                               "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            out.append(invalid(f"{path}.nonResourceURLs", urls,
                               "rules cannot apply to both regular resources and non-resource "
                               "URLs"))
        return out
    if not rule.get("apiGroups"):
        out.append(required(f"{path}.apiGroups",
                            "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        out.append(required(f"{path}.resources", "resource rules must supply at least one "
                                                 "resource"))
    return out


def _validate_rules(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    rules = obj.get("rules") or []
    return [c for i, r in enumerate(rules) for c in validate_rule(r, namespaced, f"rules[{i}]")]


def validate_subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(subject, dict):
        return [invalid(path, subject, "must be an object")]
    out: list[Cause] = []
    name, kind, group = subject.get("name"), subject.get("kind"), subject.get("apiGroup") or ""
    if not name:
        out.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            out += name_problems(f"{path}.name", str(name), "subdomain")
        if group:
            out.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            out.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        out.append(not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return out


def _default_subjects(obj: dict[str, Any]) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for s in obj.get("subjects") or []:
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = GROUP


class RoleStrategy(Strategy):
    name_rule = "path"

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return super().validate(obj) + _validate_rules(obj, self.rt.namespaced)


class ClusterRoleStrategy(RoleStrategy):
    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        agg = obj.get("aggregationRule")
        if agg is None:
            return out
        selectors = agg.get("clusterRoleSelectors") if isinstance(agg, dict) else None
        path = "aggregationRule.clusterRoleSelectors"
        if not selectors:
            out.append(required(path, "at least one clusterRoleSelector required if "
                                      "aggregationRule is non-nil"))
        for i, sel in enumerate(selectors or []):
            try:
                selector_from_object(sel)
            except (SelectorError, AttributeError):
                out.append(invalid(f"{path}[{i}]", sel, "invalid label selector."))
        return out


class RoleBindingStrategy(Strategy):
    name_rule = "path"
    role_kinds: ClassVar[list[str]] = ["Role", "ClusterRole"]

    def default(self, obj: dict[str, Any]) -> None:
        _default_subjects(obj)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        out = super().validate(obj)
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            return [*out, required("roleRef")]
        if ref.get("apiGroup") != GROUP:
            out.append(not_supported("roleRef.apiGroup", ref.get("apiGroup"), [GROUP]))
        if ref.get("kind") not in self.role_kinds:
            out.append(not_supported("roleRef.kind", ref.get("kind"), self.role_kinds))
        name = ref.get("name")
        if not name:
            out.append(required("roleRef.name"))
        else:
            out += name_problems("roleRef.name", str(name), "path")
        for i, s in enumerate(obj.get("subjects") or []):
            out += validate_subject(s, self.rt.namespaced, f"subjects[{i}]")
        return out

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        out = super().validate_update(new, old)
        ref = new.get("roleRef")
        if ref != old.get("roleRef"):
            r = ref if isinstance(ref, dict) else {}
            shown = (f'rbac.RoleRef{{APIGroup:"{r.get("apiGroup", "")}", '
                     f'Kind:"{r.get("kind", "")}", Name:"{r.get("name", "")}"}}')
            out.append(Cause("roleRef", st.INVALID,
                             f"Invalid value: {shown}: cannot change roleRef"))
        return out


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    role_kinds: ClassVar[list[str]] = ["ClusterRole"]
