"""Escalation prevention: do the rules a user holds cover the rules they try to grant?

Upstream ``pkg/registry/rbac/validation``: every rule to grant is broken down to single
(group, resource, verb[, name]) or (URL, verb) rules, each must be covered by one held rule;
the uncovered ones are compacted and listed in the 403's message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from webhook.cluster.auth.goquote import go_quote, go_quote_list
from webhook.cluster.auth.rbac.rules import ALL, Rule


def breakdown(rule: Rule) -> list[Rule]:
    out: list[Rule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out += [Rule((verb,), (group,), (resource,), (name,))
                            for name in rule.resource_names]
                else:
                    out.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        out += [Rule((verb,), non_resource_urls=(url,)) for verb in rule.verbs]
    return out


def _has_all(have: Sequence[str], want: Iterable[str]) -> bool:
    return all(w in have for w in want)


def _resources_cover(have: Sequence[str], want: Sequence[str]) -> bool:
    if ALL in have or _has_all(have, want):
        return True
    for path in want:
        if path in have:
            continue
        if "/" not in path:
            return False
        if f"*/{path.split('/', 1)[1]}" not in have:
            return False
    return True


def _url_covers(owner: str, sub: str) -> bool:
    return owner == sub or (owner.endswith("*") and sub.startswith(owner.rstrip("*")))


def _urls_cover(have: Sequence[str], want: Sequence[str]) -> bool:
    return all(any(_url_covers(o, p) for o in have) for p in want)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Does ``owner`` cover ``sub`` (at most one verb, resource, name or URL)?"""
    verbs = ALL in owner.verbs or _has_all(owner.verbs, sub.verbs)
    groups = ALL in owner.api_groups or _has_all(owner.api_groups, sub.api_groups)
    resources = _resources_cover(owner.resources, sub.resources)
    urls = _urls_cover(owner.non_resource_urls, sub.non_resource_urls)
    if not sub.resource_names:
        names = not owner.resource_names
    else:
        names = not owner.resource_names or _has_all(owner.resource_names, sub.resource_names)
    return verbs and groups and resources and names and urls


def covers(owner: Sequence[Rule], servant: Iterable[Rule]) -> tuple[bool, list[Rule]]:
    """(covered, the broken-down rules no owner rule covers)."""
    missing = [sub for rule in servant for sub in breakdown(rule)
               if not any(rule_covers(o, sub) for o in owner)]
    return not missing, missing


def compact(rules: Iterable[Rule]) -> list[Rule]:
    """Merge simple rules (one group, one resource, at most one name) by their verbs."""
    out: list[Rule] = []
    simple: dict[tuple[str, str, str | None], Rule] = {}
    for r in rules:
        if (len(r.resource_names) <= 1 and not r.non_resource_urls and len(r.api_groups) == 1
                and len(r.resources) == 1):
            key = (r.api_groups[0], r.resources[0],
                   r.resource_names[0] if r.resource_names else None)
            prev = simple.get(key)
            simple[key] = r if prev is None else Rule(prev.verbs + r.verbs, prev.api_groups,
                                                      prev.resources, prev.resource_names)
        else:
            out.append(r)
    return out + list(simple.values())


def compact_string(rule: Rule) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:["apps"], Resources:["deployments"], ...}``."""
    parts = []
    for label, values in (("APIGroups", rule.api_groups), ("Resources", rule.resources),
                          ("NonResourceURLs", rule.non_resource_urls),
                          ("ResourceNames", rule.resource_names), ("Verbs", rule.verbs)):
        if values:
            parts.append(f"{label}:{go_quote_list(values)}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: str, groups: Sequence[str], missing: Iterable[Rule],
                       resolution_errors: Sequence[str] = ()) -> str:
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (f"user {go_quote(user)} (groups={go_quote_list(groups)}) is attempting to grant RBAC "
           "permissions not currently held:\n" + "\n".join(lines))
    if resolution_errors:
        msg += f"; resolution errors: [{' '.join(resolution_errors)}]"
    return msg
