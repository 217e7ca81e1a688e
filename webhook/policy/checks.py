"""Checks across a policy document: shadowed policies, and defaults that break the rules.

- A policy's own defaults breaking its own rules is a problem (every Deployment relying on them
  would be denied): ``policies[0].defaults.steps[2].setWeight: raises the weight by 40 ...``.
- A built-in default breaking a policy's rules is a warning: Deployments that set the
  annotation themselves are fine, the others are denied until they do.
- Shadowing is a warning. Policies are tried in order and the first match wins, so a policy
  whose namespaces and selector are covered by an earlier one never applies, and one that
  overlaps an earlier one applies only where the earlier one does not. Namespaces listed by
  name are compared as the selector ``kubernetes.io/metadata.name in (...)``, so a name list
  and a label selector are compared too; the tests are sufficient, never guesses. A name list
  and a label selector that may meet (depending on the Namespaces' labels, unknown offline)
  are not reported.
"""

from __future__ import annotations

from webhook.errors import Problem, SpecError
from webhook.policy.effective import annotation_of
from webhook.policy.model import NAME_LABEL, ClusterPolicy, PolicySet
from webhook.policy.rules import violations
from webhook.policy.selectors import LabelSelector, Requirement, covers, disjoint
from webhook.spec import names as n
from webhook.spec.canary import CanarySpec, parse_canary_spec

# The options a router needs and each Deployment names for itself (its VirtualService...):
# stand-ins, so the defaults can be parsed into the spec a Deployment would get.
STAND_INS = {
    n.ISTIO_VIRTUAL_SERVICE: "its-virtual-service",
    n.NGINX_INGRESS: "its-ingress",
    n.ALB_INGRESS: "its-ingress",
    n.ALB_SERVICE_PORT: "80",
    n.HTTP_ROUTE: "its-http-route",
}


# A router that can do every step, for defaults that leave the router to each Deployment.
ANY_ROUTER = {n.TRAFFIC_ROUTER: "proxy"}


def defaults_spec(policy: ClusterPolicy) -> CanarySpec | None:
    """The spec a Deployment setting no annotation but the options its router needs gets
    (``None`` if the defaults are invalid).

    Defaults without a router that need one (a mirror step) are read with a router able to do
    everything (``ANY_ROUTER``); ``violations`` then ignores ``allowedRouters``."""
    for extra in ({}, ANY_ROUTER):
        try:
            return parse_canary_spec({**STAND_INS, **extra, **policy.defaults_map}).spec
        except SpecError:
            if n.TRAFFIC_ROUTER in policy.defaults_map:
                return None
    return None


def _checked(policy: ClusterPolicy) -> list[Problem]:
    """The rules the defaults break, as problems with annotation paths."""
    spec = defaults_spec(policy)
    if spec is None:
        return []
    found = violations(spec, policy)
    if n.TRAFFIC_ROUTER not in policy.defaults_map and spec.routers == ("proxy",):
        found = [p for p in found if p.path != n.TRAFFIC_ROUTER]  # the stand-in's
    return found


def defaults_against_rules(policy: ClusterPolicy) -> list[Problem]:
    defaults = policy.defaults_map
    return [
        Problem(f"{policy.path}.defaults.{p.path[len(n.PREFIX):]}", p.message)
        for p in _checked(policy)
        if annotation_of(p.path) in defaults
    ]


def warnings(policies: PolicySet) -> list[str]:
    out: list[str] = []
    for policy in policies.policies:
        out += _builtin_against_rules(policy)
    for j, later in enumerate(policies.policies):
        for earlier in policies.policies[:j]:
            message = _shadow(earlier, later)
            if message:
                out.append(message)
                if "never applies" in message:
                    break
    return out


def _builtin_against_rules(policy: ClusterPolicy) -> list[str]:
    """One warning per annotation whose built-in value breaks the rules (the first problem)."""
    defaults = policy.defaults_map
    found: dict[str, list[Problem]] = {}
    for p in _checked(policy):
        key = annotation_of(p.path)
        if key not in defaults and key != n.ANALYSIS:
            found.setdefault(key, []).append(p)
    return [
        f"{_who(policy)}: a Deployment that sets no {key} gets the built-in value, which "
        f"breaks the policy's rules ({problems[0]}"
        f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); give the policy "
        f"defaults.{key[len(n.PREFIX):]}"
        for key, problems in found.items()
    ]


def _who(policy: ClusterPolicy) -> str:
    return f"{policy.path} ({policy.name})"


def namespace_scope(policy: ClusterPolicy) -> LabelSelector | None:
    """The policy's namespaces as a selector over Namespace labels."""
    if policy.namespaces is not None:
        return LabelSelector((), (Requirement(NAME_LABEL, "In", policy.namespaces),))
    return policy.namespace_selector


def _shadow(earlier: ClusterPolicy, later: ClusterPolicy) -> str:
    ns_a, ns_b = namespace_scope(earlier), namespace_scope(later)
    if disjoint(ns_a, ns_b) or disjoint(earlier.selector, later.selector):
        return ""
    if covers(ns_a, ns_b) and covers(earlier.selector, later.selector):
        return (
            f"{_who(later)} never applies: {_who(earlier)} comes first and covers every "
            f"Deployment it covers (the first matching policy wins)"
        )
    by_name = (earlier.namespaces is not None, later.namespaces is not None)
    if by_name[0] != by_name[1]:
        return ""  # names against labels: whether they meet depends on the Namespaces' labels
    where = ""
    if earlier.namespaces is not None and later.namespaces is not None:
        where = f" in namespace{'s' if len(earlier.namespaces & later.namespaces) > 1 else ''} "
        where += ", ".join(sorted(earlier.namespaces & later.namespaces))
    return (
        f"{_who(later)} is shadowed by {_who(earlier)}{where} for the Deployments both cover: "
        f"the first matching policy wins"
    )
