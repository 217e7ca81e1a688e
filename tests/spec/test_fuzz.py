"""hypothesis: random annotations never crash the spec parser; every refusal is a SpecError
whose problems each name the annotation (with a field path) and say what is wrong."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webhook.errors import SpecError
from webhook.spec import ParsedSpec, names, parse_canary_spec
from webhook.spec.hashing import _normalise

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [*names.USER_ANNOTATIONS, names.STATUS, "canarist.io/stepz", "canarist.io/", "app/x"]
STEP_KEYS = [
    "setWeight",
    "pause",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "analysis",
    "duration",
    "replicas",
    "weight",
    "matchTrafficWeight",
    "name",
    "match",
    "headerName",
    "headerValue",
    "exact",
    "prefix",
    "regex",
    "percentage",
    "method",
    "path",
    "templates",
    "templateName",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-1000, max_value=1000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["30s", "1m", "1h", "10", "", "[", "(", "*", "x-beta", "istio", "GET"])
    | st.text(max_size=12)
)
shaped = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(STEP_KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=25,
)


def _yaml(value: Any) -> str:
    try:
        return yaml.safe_dump(value, default_flow_style=None)
    except (yaml.YAMLError, ValueError):
        return str(value)


values = (
    st.text(max_size=60)
    | shaped.map(_yaml)
    | st.sampled_from(["istio,proxy", "none", "alb", "gateway-api,smi", "true", "false", "5m"])
)


def _check(annotations: dict[str, Any]) -> None:
    try:
        parsed = parse_canary_spec(annotations, deployment="web")
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message.strip()
            assert problem.path.startswith("canarist.io/"), problem
        assert str(exc).startswith("Deployment web: ")
        return
    assert isinstance(parsed, ParsedSpec)
    assert all(isinstance(w, str) and w for w in parsed.warnings)


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=20), values, max_size=6))
@example({names.ALB_SERVICE_PORT: "²"})  # str.isdigit() says yes, int() says no
def test_random_annotations(annotations: dict[str, str]) -> None:
    _check(annotations)


@SETTINGS
@given(st.lists(shaped, max_size=6), st.sampled_from(["none", "proxy", "istio", "alb", "nginx"]))
def test_random_steps(steps: list[Any], router: str) -> None:
    _check({names.STEPS: _yaml(steps), names.TRAFFIC_ROUTER: router})


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), shaped, max_size=4))
def test_non_string_values(annotations: dict[str, Any]) -> None:
    _check(annotations)


@SETTINGS
@given(shaped)
def test_random_analysis(analysis: Any) -> None:
    _check(
        {
            names.ANALYSIS: _yaml(analysis),
            names.STEPS: "- analysis: {templates: [{templateName: a}]}",
        }
    )


def _reference_normalise(value: Any) -> Any:
    """Step 2 of the hash definition, written plainly (the module's version is tuned for speed)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            norm = _reference_normalise(item)
            if norm is not None:
                out[key] = norm
        return out or None
    if isinstance(value, list):
        items = [_reference_normalise(item) for item in value]
        return items or None
    return value


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@SETTINGS
@given(json_like)
def test_fast_normalisation_matches_the_definition(value: Any) -> None:
    assert _normalise(value) == _reference_normalise(value)
