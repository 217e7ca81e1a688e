"""Precedence (the Deployment's annotations, the first matching policy's defaults, built-in
defaults) and who is managed."""

from __future__ import annotations

import pytest

from tests.policy.helpers import one
from webhook.errors import SpecError
from webhook.policy import BypassRecord, manage, parse_effective
from webhook.policy.effective import effective_annotations, from_policy
from webhook.spec import DEFAULT_STEPS, Pause, SetWeight
from webhook.spec import names as n

POLICY = one(
    adopt=True,
    defaults={"steps": "- setWeight: 10\n- pause: {duration: 2m}", "traffic-router": "proxy",
              "scale-down-delay": "5s"},
)


def test_own_annotations_win_over_policy_defaults_which_win_over_built_ins() -> None:
    own = {n.STEPS: "- setWeight: 33\n- pause: {}"}
    spec = parse_effective(own, POLICY).spec
    assert spec.steps == (SetWeight(33), Pause(None))  # the Deployment's
    assert spec.routers == ("proxy",)  # the policy's
    assert spec.scale_down_delay == 5.0  # the policy's
    assert spec.abort_scale_down_delay == 30.0  # built-in
    assert from_policy(own, POLICY) == {n.TRAFFIC_ROUTER, n.SCALE_DOWN_DELAY}


def test_without_a_policy_the_built_in_defaults_apply() -> None:
    spec = parse_effective({}, None).spec
    assert spec.steps == DEFAULT_STEPS and spec.routers == ("none",)
    own = {"a": "b"}
    assert effective_annotations(own, None) is own


def test_a_policy_default_in_a_problem_is_named() -> None:
    own = {n.STEPS: "- setMirrorRoute: {name: m, percentage: 5, match: [{method: {exact: GET}}]}"}
    with pytest.raises(SpecError) as info:
        parse_effective({n.STEPS: own[n.STEPS]}, one(defaults={"traffic-router": "smi"}))
    (problem,) = info.value.problems
    assert problem.path == "canarist.io/steps[0].setMirrorRoute"
    assert "(canarist.io/steps" not in problem.message  # the steps are the Deployment's own
    with pytest.raises(SpecError) as info:
        parse_effective({n.TRAFFIC_ROUTER: "smi"}, one(defaults={"steps": own[n.STEPS]}))
    (problem,) = info.value.problems
    assert problem.message.endswith("(canarist.io/steps from policy team-a)")


ADOPT = one(adopt=True)
ENFORCE = one(adopt=True, enforce=True)
PASSIVE = one()
OPT_OUT_RECORD = {n.BYPASS: BypassRecord("u1", "alice", ("admins",), "team-a", ("optOut",),
                                         "opted out").to_json()}

# (label value or None, annotations, policy, managed?, a part of the reason)
MANAGED = [
    ("true", {}, None, True, 'label canarist.io/enabled: "true"'),
    ("true", {}, PASSIVE, True, "label"),
    (None, {}, None, False, "no policy covers it"),
    (None, {}, PASSIVE, False, "does not adopt"),
    (None, {}, ADOPT, True, "adopted by policy team-a"),
    ("false", {}, ADOPT, False, "opted out"),
    ("false", {}, ENFORCE, True, "does not opt out, the policy enforces"),
    ("false", OPT_OUT_RECORD, ENFORCE, False, "opted out"),
    ("false", {n.BYPASS: "not json"}, ENFORCE, True, "enforces"),
    ("false", {}, PASSIVE, False, "opted out"),
    ("yes", {}, ADOPT, True, "adopted"),
]


@pytest.mark.parametrize(("label", "annotations", "policy", "managed", "why"), MANAGED)
def test_who_is_managed(label, annotations, policy, managed, why) -> None:
    labels = {} if label is None else {n.ENABLED_LABEL: label}
    state = manage(labels, annotations, policy)
    assert state.managed is managed
    assert why in state.reason


def test_bypass_records_round_trip_and_garbage_reads_as_none() -> None:
    record = BypassRecord("uid-1", "bob", ("g1", "g2"), "team-a", ("rules.minPause",), "why")
    assert BypassRecord.of({n.BYPASS: record.to_json()}) == record
    for bad in ("", "[]", "{", "1", None, "x" * 20000):
        assert BypassRecord.of({n.BYPASS: bad}) is None
    assert "bob (groups g1, g2), exempt from policy team-a" in record.event_message()
