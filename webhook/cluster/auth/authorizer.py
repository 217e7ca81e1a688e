"""The API server's authorizer: ``system:masters`` first (allowed everything, as
kube-apiserver's privileged-group authorizer), then RBAC over the stored policy.

The policy snapshot is rebuilt lazily after any write to an RBAC object, so a decision costs
a walk over the bindings that apply and never a store scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webhook.cluster.auth.rbac.policy import Decision, Policy, authorize, rules_for
from webhook.cluster.auth.rbac.rules import Request, Rule
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.store import Event, Store

ROLES = "roles.rbac.authorization.k8s.io"
CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io"
ROLE_BINDINGS = "rolebindings.rbac.authorization.k8s.io"
CLUSTER_ROLE_BINDINGS = "clusterrolebindings.rbac.authorization.k8s.io"
RBAC_RESOURCES = frozenset({ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS})

# what the privileged-group authorizer reports holding (authorizerfactory.privilegedGroupAuthorizer)
PRIVILEGED_RULES = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))


@dataclass(frozen=True)
class RulesReview:
    """What ``SelfSubjectRulesReview`` reports."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Authorizer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._policy: Policy | None = None
        store.add_listener(self._changed)

    def _changed(self, ev: Event) -> None:
        if ev.resource in RBAC_RESOURCES:
            self._policy = None

    def policy(self) -> Policy:
        if self._policy is None:
            s = self.store
            self._policy = Policy.from_objects(s.iter(CLUSTER_ROLES), s.iter(ROLES),
                                               s.iter(CLUSTER_ROLE_BINDINGS),
                                               s.iter(ROLE_BINDINGS))
        return self._policy

    def authorize(self, request: Request) -> Decision:
        if request.user.privileged:
            return Decision(True)
        return authorize(self.policy(), request)

    def rules_for(self, user: UserInfo, namespace: str) -> RulesReview:
        rules, errors = rules_for(self.policy(), user, namespace)
        if user.privileged:
            rules = [*PRIVILEGED_RULES, *rules]
        return RulesReview(rules, errors)
