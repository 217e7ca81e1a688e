"""Every guardrail, with a passing and a failing case; the messages name policy and rule."""

from __future__ import annotations

import pytest

from tests.policy.helpers import one
from webhook.policy import promote_full_refusal, violations, waiting_message
from webhook.spec import names as n
from webhook.spec import parse_canary_spec


def spec(**annotations: str):
    return parse_canary_spec({f"canarist.io/{k.replace('_', '-')}": v
                              for k, v in annotations.items()}).spec


ANALYSIS_STEPS = "metrics: [{name: success-rate, provider: builtin, min: 0.95}]"
ANALYSIS_BG = ANALYSIS_STEPS + "\nbackground: true"

# (rules, annotations, [(path, the message)]) — [] passes
CASES = [
    ({"maxWeightIncrease": 25}, {"steps": "- setWeight: 20\n- setWeight: 45"}, []),
    ({"maxWeightIncrease": 25}, {"steps": "- setWeight: 10\n- pause: {}\n- setWeight: 50"},
     [("canarist.io/steps[2].setWeight", "raises the weight by 40 (from 10 to 50); policy "
       "team-a allows at most 25 (rules.maxWeightIncrease)")]),
    ({"maxWeightIncrease": 25}, {"steps": "- setWeight: 30"},
     [("canarist.io/steps[0].setWeight", "raises the weight by 30 (from 0 to 30)")]),
    # lowering and raising again counts from the lower weight
    ({"maxWeightIncrease": 25}, {"steps": "- setWeight: 20\n- setWeight: 0\n- setWeight: 20"},
     []),
    ({"minPause": "1m"}, {"steps": "- setWeight: 20\n- pause: {duration: 1m}\n- setWeight: 40\n"
                                   "- pause: {}"}, []),
    ({"minPause": "1m"}, {"steps": "- setWeight: 20\n- pause: {duration: 30s}\n- setWeight: 40"
                                   "\n- pause: {}"},
     [("canarist.io/steps[1].pause.duration", "pauses 30s after the weight rose to 20; policy "
       "team-a requires at least 1m (rules.minPause)")]),
    ({"minPause": "1m"}, {"steps": "- setWeight: 20\n- pause: {duration: 2m}\n- setWeight: 40"},
     [("canarist.io/steps[2].setWeight", "raises the weight to 40 with no pause after it; "
       "policy team-a requires a pause of at least 1m after every weight increase "
       "(rules.minPause)")]),
    # two short pauses do not add up to one long enough; a lower weight needs no pause
    ({"minPause": "1m"}, {"steps": "- setWeight: 20\n- pause: {duration: 40s}\n"
                                   "- pause: {duration: 40s}\n- setWeight: 10"},
     [("canarist.io/steps[1].pause.duration", "pauses 40s")]),
    ({"requireAnalysis": True}, {"analysis": ANALYSIS_BG}, []),
    ({"requireAnalysis": True}, {"analysis": ANALYSIS_STEPS,
                                 "steps": "- setWeight: 20\n- analysis: {}"}, []),
    ({"requireAnalysis": True}, {"steps": "- setWeight: 20\n- pause: {}"},
     [("canarist.io/analysis", "is required: policy team-a requires a background analysis or "
       "an analysis step (rules.requireAnalysis)")]),
    ({"requireAnalysis": True}, {}, [("canarist.io/analysis", "is required")]),
    ({"allowedRouters": ["istio", "proxy"]}, {"traffic_router": "proxy"}, []),
    ({"allowedRouters": ["istio", "proxy"]}, {},
     [("canarist.io/traffic-router", 'traffic router "none" is not allowed; policy team-a '
       "allows istio, proxy (rules.allowedRouters)")]),
    ({"allowedRouters": ["istio"]}, {"traffic_router": "istio,proxy",
                                     "istio_virtual_service": "vs"},
     [("canarist.io/traffic-router", '"proxy" is not allowed')]),
    ({"allowPromoteFull": False}, {"action": "promote"}, []),
    ({"allowPromoteFull": True}, {"action": "promote-full"}, []),
    ({"allowPromoteFull": False}, {"action": "promote-full"},
     [("canarist.io/action", "promote-full is not allowed: policy team-a forbids skipping the "
       "remaining steps (rules.allowPromoteFull: false)")]),
    ({"maxConcurrentReleases": 1}, {}, []),  # the reconciler's, not admission's
]


@pytest.mark.parametrize(("rules", "annotations", "expected"), CASES)
def test_rules(rules, annotations, expected) -> None:
    found = violations(spec(**annotations), one(rules=rules))
    assert [(p.path, p.message) for p in found][: len(expected)] == [
        (path, next((p.message for p in found if p.path == path and text in p.message), text))
        for path, text in expected
    ]
    assert len(found) == len(expected)
    for (path, text), problem in zip(expected, found, strict=True):
        assert problem.path == path and text in problem.message


def test_the_promote_full_refusal_is_one_sentence_everywhere() -> None:
    assert promote_full_refusal(None) == ""
    assert promote_full_refusal(one()) == ""
    text = promote_full_refusal(one(rules={"allowPromoteFull": False}))
    assert text == ("promote-full is not allowed: policy team-a forbids skipping the remaining "
                    "steps (rules.allowPromoteFull: false)")
    found = violations(spec(action="promote-full"), one(rules={"allowPromoteFull": False}))
    assert [p.message for p in found] == [text] and found[0].path == n.ACTION


def test_the_waiting_message_says_why_and_who_runs() -> None:
    policy = one(rules={"maxConcurrentReleases": 2})
    text = waiting_message(policy, ["team-a/api", "team-a/web"])
    assert text == ("waiting to start: policy team-a allows 2 releases at once "
                    "(rules.maxConcurrentReleases); running: team-a/api, team-a/web")
    many = waiting_message(policy, [f"ns/d{i}" for i in range(8)])
    assert many.endswith("ns/d4 and 3 more")
