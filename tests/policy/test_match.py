"""Which policy covers a Deployment: the first whose namespaces and selector match."""

from __future__ import annotations

import pytest

from tests.policy.helpers import policy_set

POLICIES = policy_set(
    {"name": "web-a", "namespaces": ["team-a"], "selector": {"matchLabels": {"tier": "web"}}},
    {"name": "all-a", "namespaces": ["team-a", "team-b"]},
    {"name": "prod", "namespaceSelector": {"matchLabels": {"env": "prod"}}},
    {"name": "not-legacy", "namespaceSelector": {"matchExpressions": [
        {"key": "legacy", "operator": "DoesNotExist"},
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["sandbox"]}]},
     "selector": {"matchExpressions": [{"key": "canary", "operator": "Exists"}]}},
)

# (namespace, namespace labels, Deployment labels, the policy expected)
CASES = [
    ("team-a", None, {"tier": "web"}, "web-a"),
    ("team-a", None, {"tier": "db"}, "all-a"),
    ("team-a", None, {}, "all-a"),
    ("team-b", None, {"tier": "web"}, "all-a"),
    # named namespaces come first in order, whatever their labels say
    ("team-a", {"env": "prod"}, {}, "all-a"),
    ("shop", {"env": "prod"}, {}, "prod"),
    ("shop", {"env": "stage"}, {}, None),
    ("shop", {"env": "stage"}, {"canary": "yes"}, "not-legacy"),
    ("shop", {"env": "stage", "legacy": "1"}, {"canary": "yes"}, None),
    ("sandbox", {}, {"canary": "yes"}, None),
    # a Namespace not seen yet: only its name label is known
    ("other", None, {"canary": ""}, "not-legacy"),
    ("other", None, {}, None),
]


@pytest.mark.parametrize(("ns", "ns_labels", "labels", "expected"), CASES)
def test_the_first_matching_policy_wins(ns, ns_labels, labels, expected) -> None:
    found = POLICIES.match(ns, labels, ns_labels)
    assert (found.name if found else None) == expected


def test_candidates_are_the_named_and_the_labelled_policies_in_order() -> None:
    assert [p.name for p in POLICIES.candidates("team-a")] == [
        "web-a", "all-a", "prod", "not-legacy"]
    assert [p.name for p in POLICIES.candidates("elsewhere")] == ["prod", "not-legacy"]
    assert POLICIES.needs_namespace_labels
    assert POLICIES.namespace_names == {"team-a", "team-b"}


def test_named_namespaces_only_need_no_namespace_labels() -> None:
    ps = policy_set({"name": "a", "namespaces": ["x"]})
    assert not ps.needs_namespace_labels
    assert ps.candidates("y") == ()
    assert ps.match("y", {}) is None and ps.in_scope("x", None) and not ps.in_scope("y", None)


def test_fifty_policies_match_through_the_index() -> None:
    ps = policy_set(*({"name": f"p{i}", "namespaces": [f"ns-{i}"]} for i in range(50)))
    found = ps.match("ns-49", {})
    assert found is not None and found.name == "p49" and found.index == 49
    assert len(ps.candidates("ns-49")) == 1
