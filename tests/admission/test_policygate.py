"""What an enforced policy forbids at admission, and an exempt writer's bypass (pure)."""

from __future__ import annotations

import pytest

from tests.policy.helpers import one
from webhook.admission.policygate import (
    Side,
    forging_status,
    guardrails,
    judge,
    opting_out,
    unpausing,
)
from webhook.policy import BypassRecord
from webhook.spec import parse_canary_spec
from webhook.spec.names import BYPASS, ENABLED_LABEL

ENFORCE = one(adopt=True, enforce=True, selector={"matchLabels": {"tier": "web"}},
              exempt={"groups": ["platform-admins"], "users": ["root"]})
SOFT = one(adopt=True, selector={"matchLabels": {"tier": "web"}})
OTHER = one(name="other", adopt=True)


def side(policy=ENFORCE, label: str | None = None, tier: str = "web",
         **annotations: str) -> Side:
    labels = {"tier": tier}
    if label is not None:
        labels[ENABLED_LABEL] = label
    return Side(labels, annotations, policy)


# (new, old, the message part expected, or None)
OPT_OUTS = [
    (side(label="false"), side(), 'opting out (label canarist.io/enabled: "false") is not '
     "allowed: policy team-a enforces canary releases (enforce: true)"),
    (side(label="false"), None, "opting out"),  # a create
    (side(label="false"), side(label="false"), None),  # already so
    (side(policy=SOFT, label="false"), side(policy=SOFT), None),  # not enforced
    (side(policy=None, tier="db"), side(), "labels that policy team-a no longer selects"),
    (side(policy=OTHER, tier="db"), side(), "labels that policy team-a no longer selects"),
    (side(policy=one(enforce=True)), side(policy=one(enforce=True), label="true"),
     'label canarist.io/enabled: "true" removed'),
    (side(policy=one(enforce=True), label="true"), side(policy=one(enforce=True)), None),
    (side(), side(), None),
]


@pytest.mark.parametrize(("new", "old", "expected"), OPT_OUTS)
def test_opting_out(new: Side, old: Side | None, expected: str | None) -> None:
    found = opting_out(new, old)
    if expected is None:
        assert found == []
    else:
        (finding,) = found
        assert finding.problem.path == ENABLED_LABEL and expected in finding.problem.message
        assert finding.rule == "optOut" and finding.policy.name == "team-a"


def test_unpausing_and_status_only_under_enforcement() -> None:
    assert unpausing(SOFT, "ns/web") == [] and unpausing(None, "ns/web") == []
    (finding,) = unpausing(ENFORCE, "ns/web")
    assert finding.problem.path == "spec.paused" and finding.rule == "unpause"
    assert "policy team-a enforces canary releases (enforce: true)" in finding.problem.message
    assert forging_status(SOFT, False) == []
    (finding,) = forging_status(ENFORCE, True)
    assert finding.problem.path == "canarist.io/status" and finding.rule == "status"
    assert "removing it is not allowed" in finding.problem.message


def test_guardrails_name_their_rule() -> None:
    policy = one(rules={"maxWeightIncrease": 25, "allowedRouters": ["proxy"]})
    spec = parse_canary_spec({"canarist.io/steps": "- setWeight: 50"}).spec
    found = guardrails(spec, policy)
    assert [f.rule for f in found] == ["rules.maxWeightIncrease", "rules.allowedRouters"]
    assert guardrails(spec, None) == []


def test_judge_denies_with_every_problem_or_lets_the_exempt_through() -> None:
    findings = [*opting_out(side(label="false"), side()), *unpausing(ENFORCE, "ns/web")]
    verdict = judge(findings, uid="u-1", user="bob", groups=("dev",), subject="Deployment web")
    assert verdict.denied and verdict.record is None
    assert verdict.denial is not None and verdict.denial.startswith("Deployment web: 2 problems")
    assert "- canarist.io/enabled: opting out" in verdict.denial
    for user, groups in (("alice", ("platform-admins",)), ("root", ())):
        verdict = judge(findings, uid="u-1", user=user, groups=groups, subject="Deployment web")
        assert not verdict.denied and verdict.record is not None
        assert verdict.record.rules == ("optOut", "unpause")
        assert verdict.record.uid == "u-1" and verdict.record.user == user
        assert BypassRecord.of({BYPASS: verdict.record.to_json()}) == verdict.record
        assert f"canarist: {user} is exempt from policy team-a: optOut, unpause bypassed" in (
            verdict.warnings[0])
    assert judge([], uid="u", user="x", groups=(), subject="s") == judge(
        [], uid="v", user="y", groups=(), subject="t")


def test_an_exemption_must_cover_every_policy_involved() -> None:
    both = [*opting_out(side(policy=OTHER, tier="db"), side()),
            *guardrails(parse_canary_spec({}).spec, one(name="other", rules={
                "maxWeightIncrease": 5}))]
    assert {f.policy.name for f in both} == {"team-a", "other"}
    verdict = judge(both, uid="u", user="alice", groups=("platform-admins",), subject="s")
    assert verdict.denied  # exempt from team-a only
