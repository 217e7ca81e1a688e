"""The policy document: valid ones read into frozen values, invalid ones refused whole with
every problem at its path."""

from __future__ import annotations

import pytest

from tests.policy.helpers import document, one, policy_set
from webhook.errors import PolicyError
from webhook.policy import parse_policies
from webhook.policy.selectors import Requirement
from webhook.spec import names as n


def test_the_issue_example_reads_into_values() -> None:
    p = one(
        namespaces=["team-a", "team-b"],
        selector={"matchLabels": {"tier": "web"}},
        adopt=True,
        defaults={
            "steps": "- setWeight: 20\n- pause: {duration: 5m}\n- setWeight: 40\n- pause: {}\n",
            "traffic-router": "istio",
        },
        rules={
            "maxWeightIncrease": 25,
            "minPause": "1m",
            "requireAnalysis": True,
            "allowedRouters": ["istio", "proxy"],
            "allowPromoteFull": False,
            "maxConcurrentReleases": 2,
        },
        exempt={"users": [], "groups": ["platform-admins"]},
    )
    assert p.name == "team-a" and p.index == 0 and p.path == "policies[0]"
    assert p.namespaces == frozenset({"team-a", "team-b"})
    assert p.selector is not None and p.selector.match_labels == (("tier", "web"),)
    assert p.adopt and not p.enforce
    assert dict(p.defaults)[n.TRAFFIC_ROUTER] == "istio"
    r = p.rules
    assert (r.max_weight_increase, r.min_pause, r.require_analysis) == (25, 60.0, True)
    assert r.allowed_routers == ("istio", "proxy")
    assert (r.allow_promote_full, r.max_concurrent_releases) == (False, 2)
    assert p.exempt.groups == frozenset({"platform-admins"}) and not p.exempt.users


@pytest.mark.parametrize("text", ["", "# nothing\n", "policies: []\n", "policies:\n"])
def test_empty_documents_hold_no_policies(text: str) -> None:
    assert len(parse_policies(text)) == 0


def test_defaults_are_optional_and_rules_default_to_none() -> None:
    p = one()
    assert p.defaults == () and p.rules.allow_promote_full
    assert p.rules.max_weight_increase is None and p.exempt.empty
    assert not p.adopt and not p.enforce and p.selector is None


def test_namespace_selector_reads_expressions() -> None:
    p = policy_set({"name": "labelled", "namespaceSelector": {
        "matchLabels": {"team": "a"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "stage"]},
                             {"key": "legacy", "operator": "DoesNotExist"}]}}).policies[0]
    assert p.namespaces is None and p.namespace_selector is not None
    wanted = Requirement("env", "In", frozenset({"prod", "stage"}))
    assert wanted in p.namespace_selector.expressions


# Each invalid document with (path, a part of the message) of every problem expected.
INVALID = [
    ("policies: 3", [("policies", "must be a list")]),
    ("- name: a", [("policies", "must be a mapping with a policies: list, got list")]),
    ("policy: []", [("policy", "unknown key")]),
    ("policies: [3]", [("policies[0]", "must be a mapping")]),
    (document({"namespaces": ["a"]}), [("policies[0].name", "is required")]),
    (document({"name": "A_b", "namespaces": ["a"]}), [("policies[0].name", "invalid name")]),
    (document({"name": 7, "namespaces": ["a"]}), [("policies[0].name", "must be a string")]),
    (document({"name": "a"}),
     [("policies[0]", "exactly one of namespaces, namespaceSelector; got neither")]),
    (document({"name": "a", "namespaces": ["x"], "namespaceSelector": {"matchLabels": {}}}),
     [("policies[0]", "got both")]),
    (document({"name": "a", "namespaces": []}), [("policies[0].namespaces", "at least one")]),
    (document({"name": "a", "namespaces": ["x", "x"]}),
     [("policies[0].namespaces[1]", "listed twice")]),
    (document({"name": "a", "namespaces": ["Team"]}),
     [("policies[0].namespaces[0]", "invalid namespace")]),
    (document({"name": "a", "namespaces": ["kube-system"]}),
     [("policies[0].namespaces[0]", "the cluster's own namespace")]),
    (document({"name": "a", "namespaceSelector": {}}),
     [("policies[0].namespaceSelector", "must not be empty")]),
    (document({"name": "a", "namespaceSelector": {"matchLabels": {"-x": "y"}}}),
     [("policies[0].namespaceSelector.matchLabels.-x", "invalid label key")]),
    (document({"name": "a", "namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "in", "values": ["a"]}]}}),
     [("policies[0].namespaceSelector.matchExpressions[0].operator", "must be one of In")]),
    (document({"name": "a", "namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "In"}]}}),
     [("policies[0].namespaceSelector.matchExpressions[0].values", "at least one value")]),
    (document({"name": "a", "namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "Exists", "values": ["a"]}]}}),
     [("policies[0].namespaceSelector.matchExpressions[0].values", "must be empty")]),
    (document({"name": "a", "namespaces": ["x"], "selector": {"matchLabels": {"t": "a b"}}}),
     [("policies[0].selector.matchLabels.t", "invalid label value")]),
    (document({"name": "a", "namespaces": ["x"], "adopt": "yes"}),
     [("policies[0].adopt", "must be true or false")]),
    (document({"name": "a", "namespaces": ["x"], "enfroce": True}),
     [("policies[0].enfroce", 'did you mean "enforce"')]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"stpes": "- pause: {}"}}),
     [("policies[0].defaults.stpes", 'did you mean "steps"')]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"action": "promote"}}),
     [("policies[0].defaults.action", "cannot have a default")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"status": "{}"}}),
     [("policies[0].defaults.status", "canarist's own")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"canarist.io/steps": "[]"}}),
     [("policies[0].defaults.canarist.io/steps", "without canarist.io/")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"scale-down-delay": 30}}),
     [("policies[0].defaults.scale-down-delay", "must be a string")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"steps": "- setWeight: 150"}}),
     [("policies[0].defaults.steps[0].setWeight", "between 0 and 100, got 150")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"traffic-router": "istoi"}}),
     [("policies[0].defaults.traffic-router", 'did you mean "istio"')]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {
        "steps": "- setMirrorRoute: {name: m, percentage: 5, match: [{method: {exact: GET}}]}",
        "traffic-router": "nginx"}}),
     [("policies[0].defaults.steps[0].setMirrorRoute", 'traffic router "nginx" cannot mirror')]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"maxWeightIncrease": 0}}),
     [("policies[0].rules.maxWeightIncrease", "between 1 and 100, got 0")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"maxWeightIncrease": 2.5}}),
     [("policies[0].rules.maxWeightIncrease", "must be an integer")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"minPause": "soon"}}),
     [("policies[0].rules.minPause", "invalid duration")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"minPause": 0}}),
     [("policies[0].rules.minPause", "longer than 0")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"allowedRouters": ["istio", "f5"]}}),
     [("policies[0].rules.allowedRouters[1]", 'unknown traffic router "f5"')]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"allowedRouters": []}}),
     [("policies[0].rules.allowedRouters", "at least one router")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"maxConcurrentReleases": -1}}),
     [("policies[0].rules.maxConcurrentReleases", "between 1 and 10000")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"requireAnalysis": 1}}),
     [("policies[0].rules.requireAnalysis", "must be true or false")]),
    (document({"name": "a", "namespaces": ["x"], "rules": {"maxWeight": 5}}),
     [("policies[0].rules.maxWeight", "unknown key")]),
    (document({"name": "a", "namespaces": ["x"], "exempt": {"groups": "admins"}}),
     [("policies[0].exempt.groups", "must be a list")]),
    (document({"name": "a", "namespaces": ["x"], "exempt": {"users": [""]}}),
     [("policies[0].exempt.users[0]", "must not be empty")]),
    (document({"name": "a", "namespaces": ["x"]}, {"name": "a", "namespaces": ["y"]}),
     [("policies[1].name", "already the name of policies[0]")]),
    # a policy whose own defaults break its own rules would deny every Deployment using them
    (document({"name": "a", "namespaces": ["x"],
               "defaults": {"steps": "- setWeight: 10\n- pause: {}\n- setWeight: 60"},
               "rules": {"maxWeightIncrease": 25}}),
     [("policies[0].defaults.steps[2].setWeight",
       "raises the weight by 50 (from 10 to 60); policy a allows at most 25")]),
    (document({"name": "a", "namespaces": ["x"], "defaults": {"traffic-router": "nginx"},
               "rules": {"allowedRouters": ["istio"]}}),
     [("policies[0].defaults.traffic-router", 'traffic router "nginx" is not allowed')]),
    ("policies: [{name: a, namespaces: &n [x]}, {name: b, namespaces: *n}]",
     [("policies[0].namespaces", "YAML anchors and aliases are not allowed (&n) at line 1")]),
    ("policies: [{name: a, namespaces: [x]}, {name: b, namespaces: [y]}]\npolicies: []",
     [("policies", "duplicate key")]),
    ("policies: [\n", [("policies", "YAML")]),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_documents_are_refused_with_every_problem_at_its_path(
    text: str, expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policies(text, "p.yaml")
    problems = info.value.problems
    assert all(p.path for p in problems), problems
    for path, part in expected:
        assert any(p.path == path and part in p.message for p in problems), (path, part, problems)
    assert str(info.value).startswith("policies in p.yaml")


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    text = document(
        {"name": "a", "namespaces": ["x"], "rules": {"maxWeightIncrease": 0}},
        {"name": "b", "namespaceSelector": {}, "adopt": "no"},
        {"name": "C"},
    )
    with pytest.raises(PolicyError) as info:
        parse_policies(text)
    paths = {p.path for p in info.value.problems}
    assert {"policies[0].rules.maxWeightIncrease", "policies[1].namespaceSelector",
            "policies[1].adopt", "policies[2].name", "policies[2]"} <= paths


def test_documents_too_large_are_refused_before_parsing() -> None:
    with pytest.raises(PolicyError, match="more than"):
        parse_policies("policies: []\n" + "#" * (300 * 1024))


def test_the_digest_names_the_version_of_the_document() -> None:
    a = parse_policies(document({"name": "a", "namespaces": ["x"]}))
    b = parse_policies(document({"name": "a", "namespaces": ["y"]}))
    assert a.digest and b.digest and a.digest != b.digest
