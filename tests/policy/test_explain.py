"""``canarist policy explain``: every setting with its source."""

from __future__ import annotations

from tests.policy.helpers import one
from webhook.policy.explain import explain, render
from webhook.spec import names as n

POLICY = one(adopt=True, defaults={"steps": "- setWeight: 10\n- pause: {duration: 2m}",
                                   "traffic-router": "proxy"},
             rules={"maxWeightIncrease": 25, "allowPromoteFull": False},
             exempt={"groups": ["platform-admins"]})


def test_each_setting_says_where_it_came_from() -> None:
    ex = explain({}, {n.SCALE_DOWN_DELAY: "1m"}, POLICY)
    sources = {s.name: (s.value, s.source) for s in ex.settings}
    assert sources["steps"] == ("setWeight 10, pause 2m", "policy team-a")
    assert sources["traffic-router"] == ("proxy", "policy team-a")
    assert sources["scale-down-delay"] == ("1m", "Deployment")
    assert sources["abort-scale-down-delay"] == ("30s", "built-in")
    assert sources["analysis"] == ("none", "built-in")
    assert "istio-virtual-service" not in sources  # an option nobody set
    assert ex.managed and ex.why == "adopted by policy team-a" and not ex.problems


def test_render_lists_policy_rules_and_settings() -> None:
    text = render("team-a/web", explain({}, {}, POLICY))
    assert text.startswith("Deployment team-a/web\nManaged:  yes (adopted by policy team-a)\n"
                           "Policy:   team-a (policies[0])\n")
    assert "rules.maxWeightIncrease  25" in text
    assert "rules.allowPromoteFull   false" in text
    assert "exempt                   group platform-admins" in text
    lines = text.splitlines()
    assert any(line.split() == ["steps", "setWeight", "10,", "pause", "2m", "policy", "team-a"]
               for line in lines)
    assert any(line.split()[:2] == ["traffic-router", "proxy"] for line in lines)


def test_without_a_policy_everything_is_built_in_or_the_deployments() -> None:
    ex = explain({n.ENABLED_LABEL: "true"}, {n.TRAFFIC_ROUTER: "proxy"}, None)
    assert {s.source for s in ex.settings} == {"built-in", "Deployment"}
    assert "Policy:   none" in render("x/y", ex)


def test_invalid_effective_annotations_are_listed() -> None:
    ex = explain({}, {n.STEPS: "- setWeight: 500"}, POLICY)
    assert ex.problems == ("canarist.io/steps[0].setWeight: must be between 0 and 100, got 500",)
    assert "admission denies changes" in render("x/y", ex)
