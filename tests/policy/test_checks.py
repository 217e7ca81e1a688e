"""Shadowed policies and built-in defaults that break a policy's rules: warnings of a valid
document."""

from __future__ import annotations

import pytest

from tests.policy.helpers import policy_set

A = {"name": "a", "namespaces": ["x", "y"]}

# (the later policy, after A; a part of the warning, or None for no warning)
CASES = [
    ({"name": "b", "namespaces": ["z"]}, None),
    ({"name": "b", "namespaces": ["x"]}, "policies[1] (b) never applies: policies[0] (a) comes "
     "first and covers every Deployment it covers"),
    ({"name": "b", "namespaces": ["x", "z"]},
     "policies[1] (b) is shadowed by policies[0] (a) in namespace x for the Deployments both "
     "cover"),
    ({"name": "b", "namespaces": ["x"], "selector": {"matchLabels": {"tier": "web"}}},
     "never applies"),
    # a selector by name covering only named namespaces
    ({"name": "b", "namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["y"]}]}},
     "never applies"),
    ({"name": "b", "namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["x", "y"]}]}},
     None),
    # labels of namespaces are not known offline: names against labels are not guessed at
    ({"name": "b", "namespaceSelector": {"matchLabels": {"env": "prod"}}}, None),
]


def test_label_selectors_that_may_meet_are_reported() -> None:
    prod = {"name": "prod", "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    team = {"name": "team", "namespaceSelector": {"matchLabels": {"team": "a"}}}
    (warning,) = policy_set(prod, team).warnings
    assert "policies[1] (team) is shadowed by policies[0] (prod) for the Deployments" in warning
    stage = {"name": "stage", "namespaceSelector": {"matchLabels": {"env": "stage"}}}
    assert policy_set(prod, stage).warnings == ()


@pytest.mark.parametrize(("later", "expected"), CASES)
def test_shadowing(later, expected) -> None:
    warnings = policy_set(A, later).warnings
    if expected is None:
        assert warnings == ()
    else:
        assert len(warnings) == 1 and expected in warnings[0], warnings


def test_disjoint_selectors_do_not_shadow() -> None:
    web = {"name": "web", "namespaces": ["x"], "selector": {"matchLabels": {"tier": "web"}}}
    db = {"name": "db", "namespaces": ["x"], "selector": {"matchLabels": {"tier": "db"}}}
    assert policy_set(web, db).warnings == ()
    # a narrower selector first only shadows part of a wider one
    everything = {"name": "all", "namespaces": ["x"]}
    (warning,) = policy_set(web, everything).warnings
    assert "policies[1] (all) is shadowed by policies[0] (web)" in warning
    # the wider one first hides the narrower
    (warning,) = policy_set(everything, web).warnings
    assert "policies[1] (web) never applies" in warning


def test_built_in_defaults_that_break_the_rules_are_a_warning() -> None:
    (warning,) = policy_set({"name": "a", "namespaces": ["x"],
                             "rules": {"maxWeightIncrease": 10}}).warnings
    assert warning.startswith("policies[0] (a): a Deployment that sets no canarist.io/steps "
                              "gets the built-in value, which breaks the policy's rules")
    assert "raises the weight by 20" in warning and "defaults.steps" in warning
    ok = {"name": "a", "namespaces": ["x"], "rules": {"maxWeightIncrease": 10},
          "defaults": {"steps": "- setWeight: 10\n- pause: {}"}}
    assert policy_set(ok).warnings == ()


def test_defaults_leaving_the_router_out_may_use_any_step() -> None:
    mirror = "- setMirrorRoute: {name: m, percentage: 5, match: [{method: {exact: GET}}]}"
    ps = policy_set({"name": "a", "namespaces": ["x"], "defaults": {"steps": mirror},
                     "rules": {"allowedRouters": ["istio"]}})
    assert ps.policies[0].defaults
