"""Annotation YAML read through libyaml gives exactly what PyYAML's own parser gives.

libyaml makes a cache miss of the webhook's spec parse about 5x cheaper; it must not change a
value or an error. Compared here on annotation-like documents, on YAML written in every style,
and on random text made of YAML's special characters (where the two parsers do disagree, and
the text must therefore go to PyYAML's parser).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admission.builders import STEPS
from tests.admission.sameness import same
from webhook.spec import boundedyaml, yamltext
from webhook.spec.canary import parse_canary_spec
from webhook.spec.problems import Problems

pytestmark = pytest.mark.skipif(
    not boundedyaml.libyaml_available(), reason="PyYAML without libyaml"
)

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(text: str, fast: bool) -> tuple[Any, list[str]]:
    problems = Problems()
    saved = yamltext.use_libyaml
    yamltext.use_libyaml = fast
    try:
        value = yamltext.load_yaml(text, "canarist.io/steps", problems)
    finally:
        yamltext.use_libyaml = saved
    return value, [str(p) for p in problems.items]


def assert_same_either_way(text: str) -> None:
    fast_value, fast_problems = load(text, fast=True)
    slow_value, slow_problems = load(text, fast=False)
    assert fast_problems == slow_problems, text
    if yamltext.failed(slow_value):
        assert yamltext.failed(fast_value), text
    else:
        assert same(fast_value, slow_value), (text, fast_value, slow_value)


ANALYSIS = """\
interval: 30s
failureLimit: 2
background: true
metrics:
- name: success-rate
  provider: builtin
  min: 0.99
- name: p99
  provider:
    prometheus:
      address: http://prometheus.monitoring:9090
      query: |
        histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))
  max: 0.5
"""


@pytest.mark.parametrize(
    "text",
    [
        STEPS,
        ANALYSIS,
        "[setWeight: 10, {pause: {duration: 30}}]",
        '- setWeight: 10\n- setWeight: 10\n- pause: {duration: "1h"}\n',
        "- setWeight: 10\n  setWeight: 20\n",  # a duplicate key: refused, with its line
        "a: &x [1, 2]\nb: *x\n",
        "- setWeight: 10\n\t- pause: {}\n",  # a tab: PyYAML refuses it, libyaml would not
        "x: !!str 10\n",  # a tag
        "x: >#c\n  text\n",  # a comment glued to a block scalar header
        "\ufeffx: 1\n",  # a byte order mark
        "- [unclosed\n",
        "",
        "~",
        "0o17: 0x1f\nyes: no\n2024-01-02: 1_000\n",
    ],
)
def test_documents_read_the_same_either_way(text: str) -> None:
    assert_same_either_way(text)


def test_the_duplicate_key_check_holds_on_the_fast_path() -> None:
    value, problems = load("- setWeight: 10\n  setWeight: 20\n", fast=True)
    assert yamltext.failed(value)
    assert problems == [
        "canarist.io/steps: YAML does not parse at line 2, column 3: duplicate key 'setWeight'"
    ]


def test_a_cache_miss_spec_parse_gives_the_same_spec_either_way() -> None:
    annotations = {
        "canarist.io/steps": STEPS,
        "canarist.io/analysis": ANALYSIS,
        "canarist.io/traffic-router": "proxy",
        "canarist.io/proxy-hosts": "web.example.com",
    }
    fast = parse_canary_spec(annotations, deployment="web")
    saved = yamltext.use_libyaml
    yamltext.use_libyaml = False
    try:
        slow = parse_canary_spec(annotations, deployment="web")
    finally:
        yamltext.use_libyaml = saved
    assert fast == slow


special = st.sampled_from(list("- :{}[],#&*|>'\"%@`?!\n\t 0123456789.eE+abxyzTrueNul~\\<=_/\ufeff"))
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.sampled_from(list("ab :#-'\"\n|>{}[],&*?%@`!\t")), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.sampled_from(list("ab :#-")), max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
dumped = st.builds(
    lambda value, flow, width: yaml.safe_dump(value, default_flow_style=flow, width=width),
    values,
    st.sampled_from([None, True, False]),
    st.integers(5, 80),
)


@SETTINGS
@given(st.text(special, max_size=40) | dumped | st.builds(str.__add__, dumped, st.text(special)))
def test_any_text_reads_the_same_either_way(text: str) -> None:
    assert_same_either_way(text)
