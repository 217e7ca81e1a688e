"""The RBAC authorizer as a pure function of the stored policy (upstream
``plugin/pkg/auth/authorizer/rbac`` and ``pkg/registry/rbac/validation``'s rule resolver).

``Policy`` is a snapshot of every Role, ClusterRole, RoleBinding and ClusterRoleBinding.
``visit`` walks the rules that apply to a user in a namespace exactly as upstream's
``VisitRulesFor`` does — ClusterRoleBindings first, then the namespace's RoleBindings — and
``authorize`` stops at the first rule that allows the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.auth.rbac.rules import Request, Rule, rule_allows, rules_of
from webhook.cluster.auth.user import UserInfo, sa_username

GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""

    def describe(self, binding_namespace: str) -> str:
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'

    def applies_to(self, user: UserInfo, namespace: str) -> bool:
        if self.kind == "User":
            return user.name == self.name
        if self.kind == "Group":
            return self.name in user.groups
        if self.kind == "ServiceAccount":
            ns = self.namespace or namespace
            return bool(ns) and user.name == sa_username(ns, self.name)
        return False


@dataclass(frozen=True)
class Binding:
    kind: str  # ClusterRoleBinding | RoleBinding
    name: str
    namespace: str
    role_kind: str  # ClusterRole | Role
    role_name: str
    subjects: tuple[Subject, ...]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Binding:
        md = obj.get("metadata") or {}
        ref = obj.get("roleRef") or {}
        subjects = tuple(
            Subject(str(s.get("kind") or ""), str(s.get("name") or ""),
                    str(s.get("namespace") or ""))
            for s in obj.get("subjects") or [] if isinstance(s, Mapping))
        return cls(str(obj.get("kind") or ""), str(md.get("name") or ""),
                   str(md.get("namespace") or ""), str(ref.get("kind") or ""),
                   str(ref.get("name") or ""), subjects)

    def describe(self, subject: Subject) -> str:
        name = f"{self.name}/{self.namespace}" if self.namespace else self.name
        return (f'{self.kind} "{name}" of {self.role_kind} "{self.role_name}" to '
                f"{subject.describe(self.namespace)}")


@dataclass
class Policy:
    cluster_roles: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    roles: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    cluster_bindings: list[Binding] = field(default_factory=list)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)

    @classmethod
    def from_objects(cls, cluster_roles: Iterable[Mapping[str, Any]],
                     roles: Iterable[Mapping[str, Any]],
                     cluster_bindings: Iterable[Mapping[str, Any]],
                     bindings: Iterable[Mapping[str, Any]]) -> Policy:
        p = cls()
        for cr in cluster_roles:
            p.cluster_roles[str((cr.get("metadata") or {}).get("name"))] = rules_of(cr)
        for r in roles:
            md = r.get("metadata") or {}
            p.roles[(str(md.get("namespace")), str(md.get("name")))] = rules_of(r)
        p.cluster_bindings = sorted((Binding.from_object(b) for b in cluster_bindings),
                                    key=lambda b: b.name)
        for b in bindings:
            rb = Binding.from_object(b)
            p.bindings.setdefault(rb.namespace, []).append(rb)
        for items in p.bindings.values():
            items.sort(key=lambda b: b.name)
        return p

    def role_rules(self, kind: str, name: str, namespace: str,
                   registry_names: bool = False) -> tuple[Rule, ...] | str:
        """The rules a roleRef points at, or the not-found message (the authorizer's lister
        says ``role.rbac...``, the registry's escalation check ``roles.rbac...``)."""
        if kind == "ClusterRole":
            found = self.cluster_roles.get(name)
            res = "clusterroles" if registry_names else "clusterrole"
        elif kind == "Role":
            found = self.roles.get((namespace, name))
            res = "roles" if registry_names else "role"
        else:
            return f'unsupported role reference kind: "{kind}"'
        if found is None:
            return f'{res}.{GROUP} "{name}" not found'
        return found


@dataclass(frozen=True)
class Visit:
    source: str  # "ClusterRoleBinding \"x\" of ClusterRole \"y\" to Group \"z\""
    rule: Rule | None
    error: str | None


def visit(policy: Policy, user: UserInfo, namespace: str, *,
          registry_names: bool = False) -> Iterator[Visit]:
    """Every rule that applies to ``user`` in ``namespace`` ("" = cluster scope only)."""
    scopes: list[list[Binding]] = [policy.cluster_bindings]
    if namespace:
        scopes.append(policy.bindings.get(namespace, []))
    for bindings in scopes:
        for b in bindings:
            subject = next((s for s in b.subjects if s.applies_to(user, namespace)), None)
            if subject is None:
                continue
            found = policy.role_rules(b.role_kind, b.role_name, namespace, registry_names)
            if isinstance(found, str):
                yield Visit("", None, found)
                continue
            source = b.describe(subject)
            for rule in found:
                yield Visit(source, rule, None)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    rule: Rule | None = None  # the rule that allowed it
    source: str = ""  # the binding and role it came from


def authorize(policy: Policy, request: Request) -> Decision:
    errors: list[str] = []
    for v in visit(policy, request.user, request.namespace):
        if v.rule is not None and rule_allows(request, v.rule):
            return Decision(True, f"RBAC: allowed by {v.source}", v.rule, v.source)
        if v.error:
            errors.append(v.error)
    if not errors:
        return Decision(False)
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return Decision(False, f"RBAC: {joined}")


def rules_for(policy: Policy, user: UserInfo, namespace: str, *,
              registry_names: bool = False) -> tuple[list[Rule], list[str]]:
    """Every rule the user holds in the namespace, and the resolution errors met."""
    rules: list[Rule] = []
    errors: list[str] = []
    for v in visit(policy, user, namespace, registry_names=registry_names):
        if v.rule is not None:
            rules.append(v.rule)
        elif v.error:
            errors.append(v.error)
    return rules, errors
