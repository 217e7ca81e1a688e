"""Escalation prevention on RBAC writes (upstream pkg/registry/rbac/*/policybased).

A Role or ClusterRole is written only by someone who already holds every rule in it (in the
namespace of the write), or may ``escalate`` on it; setting a ClusterRole's
``aggregationRule`` needs cluster-admin's rules. A binding is written only by someone who may
``bind`` its role, or already holds every rule of it. ``system:masters`` skips all of this,
as do in-process callers (they act as the admin), and edits that touch nothing but the
fields garbage collection writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhook.cluster import status as st
from webhook.cluster.auth.errors import forbidden
from webhook.cluster.auth.rbac.covers import covers, escalation_message
from webhook.cluster.auth.rbac.policy import GROUP, Decision, Policy, rules_for
from webhook.cluster.auth.rbac.rules import Request, Rule, rules_of
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.meta import metadata
from webhook.cluster.resources import ResourceType

FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))
_GC_FIELDS = ("ownerReferences", "finalizers", "deletionTimestamp", "deletionGracePeriodSeconds",
              "managedFields", "resourceVersion", "selfLink")


def only_gc_fields(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """rbacregistry.IsOnlyMutatingGCFields: nothing but owner refs and finalizers changed."""
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        md = {k: v for k, v in metadata(obj).items() if k not in _GC_FIELDS}
        return {**obj, "metadata": md}
    return strip(new) == strip(old)


class EscalationCheck:
    """A ``WriteCheck`` for the four RBAC resources."""

    def __init__(self, policy: Callable[[], Policy],
                 authorize: Callable[[Request], Decision]) -> None:
        self.policy = policy
        self.authorize = authorize

    def __call__(self, rt: ResourceType, ns: str, url_name: str, new: dict[str, Any],
                 old: dict[str, Any] | None, user: UserInfo) -> None:
        if rt.group != GROUP or user.privileged:
            return
        if old is not None and only_gc_fields(new, old):
            return
        name = str(metadata(new).get("name") or "")
        if rt.plural in ("roles", "clusterroles"):
            if self._allowed(user, "escalate", rt.plural, ns, url_name):
                return
            self._confirm(user, ns, rules_of(new), rt, name)
            agg = new.get("aggregationRule")
            if agg and (old is None or old.get("aggregationRule") != agg):
                _, missing = covers(self._held(user, ns)[0], FULL_AUTHORITY)
                if missing:
                    raise forbidden(GROUP, rt.plural, name, "must have cluster-admin privileges "
                                                            "to use the aggregationRule")
            return
        ref = new.get("roleRef") if isinstance(new.get("roleRef"), dict) else {}
        assert isinstance(ref, dict)
        kind, role = str(ref.get("kind") or ""), str(ref.get("name") or "")
        resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(kind)
        if resource is not None and self._allowed(user, "bind", resource, ns, role,
                                                  str(ref.get("apiGroup") or "")):
            return
        found = self.policy().role_rules(kind, role, ns, registry_names=True)
        if isinstance(found, str):
            if resource is None:
                raise st.bad_request(found)
            raise st.err(404, "NotFound", found,
                         {"name": role, "group": GROUP, "kind": resource})
        self._confirm(user, ns, found, rt, name)

    def _allowed(self, user: UserInfo, verb: str, resource: str, ns: str, name: str,
                 group: str = GROUP) -> bool:
        request = Request(user, verb, api_group=group, api_version="*", resource=resource,
                          namespace=ns, name=name)
        return self.authorize(request).allowed

    def _held(self, user: UserInfo, ns: str) -> tuple[list[Rule], list[str]]:
        return rules_for(self.policy(), user, ns, registry_names=True)

    def _confirm(self, user: UserInfo, ns: str, rules: tuple[Rule, ...], rt: ResourceType,
                 name: str) -> None:
        held, errors = self._held(user, ns)
        ok, missing = covers(held, rules)
        if not ok:
            raise forbidden(GROUP, rt.plural, name,
                            escalation_message(user.name, user.groups, missing, errors))
