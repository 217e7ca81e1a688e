"""hypothesis: generated policy documents never crash the parser; a refusal is a PolicyError
whose every problem has a path inside the document, and a valid document matches without
crashing either."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.errors import PolicyError
from webhook.policy import parse_policies
from webhook.policy.explain import explain
from webhook.policy.webhooks import entries

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=True)
    | st.sampled_from(["team-a", "x", "", "In", "NotIn", "Exists", "1m", "istio", "proxy",
                       "- setWeight: 20\n- pause: {}", "tier", "web", "kube-system", "A b"])
    | st.text(max_size=8)
)
KEYS = ["name", "namespaces", "namespaceSelector", "selector", "adopt", "enforce", "defaults",
        "rules", "exempt", "matchLabels", "matchExpressions", "key", "operator", "values",
        "steps", "traffic-router", "analysis", "maxWeightIncrease", "minPause",
        "requireAnalysis", "allowedRouters", "allowPromoteFull", "maxConcurrentReleases",
        "users", "groups", "action", "canarist.io/steps"]
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5),
    max_leaves=30,
)
policy = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "team-a", "X"])},
    optional=dict.fromkeys(KEYS[1:9], values)
    | {"namespaces": st.lists(st.sampled_from(["x", "y", "team-a"]), max_size=3)},
)
documents = st.one_of(
    values,
    st.fixed_dictionaries({"policies": st.lists(policy, max_size=4)}),
)


def _check(doc: Any) -> None:
    text = yaml.safe_dump(doc)
    try:
        ps = parse_policies(text, "fuzz.yaml")
    except PolicyError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.path and p.message, p
            head = p.path.split(".")[0].split("[")[0]
            top = {k or '""' for k in doc} if isinstance(doc, dict) else set()
            assert head == "policies" or p.path in top, p
        return
    for found in ps.policies:
        ps.match("x", {"tier": "web"}, {"env": "prod"})
        explain({}, {}, found)
    entries({"name": "w"}, ps, ["kube-system"])


@SETTINGS
@given(documents)
def test_generated_documents_never_crash(doc: Any) -> None:
    _check(doc)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        parse_policies(text)
    except PolicyError as exc:
        assert all(p.path for p in exc.problems)
