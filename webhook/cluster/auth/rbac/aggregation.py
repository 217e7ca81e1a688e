"""ClusterRole aggregation (upstream's clusterrole-aggregation controller), as pure functions.

A ClusterRole with an ``aggregationRule`` holds the union of the rules of every other
ClusterRole its ``clusterRoleSelectors`` select: selectors in order, roles by name within a
selector, each distinct rule once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from webhook.cluster.meta import clone, labels_of, metadata
from webhook.cluster.selectors import SelectorError, selector_from_object


def aggregated_rules(role: Mapping[str, Any],
                     cluster_roles: Iterable[Mapping[str, Any]]) -> list[Any] | None:
    """The rules ``role`` must hold, or None when it does not aggregate."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, Mapping):
        return None
    name = metadata(role).get("name")
    others = sorted((r for r in cluster_roles if metadata(r).get("name") != name),
                    key=lambda r: str(metadata(r).get("name")))
    out: list[Any] = []
    for sel in rule.get("clusterRoleSelectors") or []:
        try:
            selector = selector_from_object(sel if isinstance(sel, Mapping) else None)
        except SelectorError:
            continue
        for other in others:
            if not selector.matches(labels_of(other)):
                continue
            for r in other.get("rules") or []:
                if r not in out:
                    out.append(clone(r))
    return out


def stale_aggregates(cluster_roles: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """(name, rules) of every aggregating ClusterRole whose rules are not what they must be."""
    out = []
    for role in cluster_roles:
        want = aggregated_rules(role, cluster_roles)
        if want is not None and want != (role.get("rules") or []):
            out.append((str(metadata(role).get("name")), want))
    return out
