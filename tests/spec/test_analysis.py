"""canarist.io/analysis: metrics with plain thresholds, never evaluated expressions."""

from __future__ import annotations

import pytest

from webhook.errors import SpecError
from webhook.spec import (
    BuiltinProvider,
    DatadogProvider,
    Metric,
    PrometheusProvider,
    WebProvider,
    parse_canary_spec,
)

FULL = """
interval: 10s
failureLimit: 1
consecutiveErrorLimit: 2
count: 5
background: true
startingStep: 2
metrics:
- name: success-rate
  provider: builtin
  min: 0.95
- name: p99
  provider: {builtin: {metric: latency-p99}}
  max: 250
- name: errors
  provider: {prometheus: {address: "http://prom:9090", query: "sum(rate(x[1m]))"}}
  max: 0.01
- name: dd
  provider: {datadog: {query: "avg:x{*}"}}
  min: 1
  max: 2
- name: hook
  provider: {web: {url: "https://ci.example/ok", jsonPath: "$.data.rate",
             headers: [{key: Authorization, value: "Bearer x"}]}}
  min: 1
"""


def test_full_analysis_parses() -> None:
    analysis = parse_canary_spec({"canarist.io/analysis": FULL}).spec.analysis
    assert analysis is not None
    assert (analysis.interval, analysis.failure_limit, analysis.consecutive_error_limit) == (
        10.0,
        1,
        2,
    )
    assert (analysis.count, analysis.background, analysis.starting_step) == (5, True, 2)
    assert analysis.metrics == (
        Metric("success-rate", BuiltinProvider("success-rate"), 0.95, None),
        Metric("p99", BuiltinProvider("latency-p99"), None, 250.0),
        Metric("errors", PrometheusProvider("http://prom:9090", "sum(rate(x[1m]))"), None, 0.01),
        Metric("dd", DatadogProvider("avg:x{*}"), 1.0, 2.0),
        Metric(
            "hook",
            WebProvider(
                "https://ci.example/ok",
                headers=(("Authorization", "Bearer x"),),
                json_path="$.data.rate",
            ),
            1.0,
            None,
        ),
    )


@pytest.mark.parametrize(("value", "passes"), [(0.94, False), (0.95, True), (1.0, True)])
def test_threshold_min_is_inclusive(value: float, passes: bool) -> None:
    assert Metric("m", BuiltinProvider("success-rate"), 0.95).passes(value) is passes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics: []", "canarist.io/analysis.metrics: must list at least one metric"),
        ("interval: 1s", "canarist.io/analysis.metrics: is required"),
        (
            "metrics: [{name: a, provider: builtin, min: 1}]",
            "canarist.io/analysis.metrics[0].provider: provider builtin needs the metric name",
        ),
        (
            "metrics: [{name: success-rate, provider: builtin}]",
            "canarist.io/analysis.metrics[0]: needs a threshold: set min, max or both",
        ),
        (
            "metrics: [{name: success-rate, provider: builtin, min: 2, max: 1}]",
            "canarist.io/analysis.metrics[0]: min (2) is greater than max (1)",
        ),
        (
            "metrics: [{name: m, provider: {prometheus: {address: prom:9090, query: q}}, max: 1}]",
            'metrics[0].provider.prometheus.address: must be an http(s) URL, got "prom:9090"',
        ),
        (
            "metrics: [{name: m, provider: {graphite: {}}, max: 1}]",
            'metrics[0].provider.graphite: unknown key "graphite"',
        ),
        (
            "metrics: [{name: m, provider: builtin, successCondition: 'result > 1'}]",
            'metrics[0].successCondition: unknown key "successCondition"',
        ),
        (
            "metrics: [{name: m, provider: {web: {url: 'http://x', jsonPath: 'data'}}, min: 1}]",
            "metrics[0].provider.web.jsonPath: must be a simple JSON path",
        ),
        (
            "metrics: [{name: m, provider: {builtin: {metric: cpu}}, min: 1}]",
            'metrics[0].provider.builtin.metric: unknown builtin metric "cpu"',
        ),
        (
            "metrics: [{name: success-rate, provider: builtin, min: 1}, "
            "{name: success-rate, provider: builtin, min: 1}]",
            'metrics[1].name: duplicate metric name "success-rate"',
        ),
        ("metrics: [{name: success-rate, provider: builtin, min: x}]", "min: must be a number"),
    ],
)
def test_invalid_analysis_is_reported_with_its_path(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_canary_spec({"canarist.io/analysis": text})
    problems = [str(p) for p in info.value.problems]
    assert any(expected in p for p in problems), problems


SR = (
    "metrics: [{name: success-rate, provider: builtin, min: 0.9}, "
    "{name: p99, provider: {builtin: {metric: latency-p99}}, max: 250}]"
)


@pytest.mark.parametrize(
    ("extra", "background", "starting"),
    [
        ("", False, 0),  # as Argo: no background analysis unless asked for
        ("background: true\n", True, 0),
        ("startingStep: 2\n", True, 2),  # a startingStep asks for it
        ("background: true\nstartingStep: 1\n", True, 1),
    ],
)
def test_background_analysis_only_when_asked(extra: str, background: bool, starting: int) -> None:
    steps = "- setWeight: 10\n- analysis: {}\n"  # names every metric, so none is unused
    spec = parse_canary_spec(
        {"canarist.io/analysis": extra + SR, "canarist.io/steps": steps}
    ).spec
    assert spec.analysis is not None
    assert (spec.analysis.background, spec.analysis.starting_step) == (background, starting)


@pytest.mark.parametrize(
    ("analysis", "steps", "problems"),
    [
        # a metric nothing measures: refused, with the ways out
        (
            SR,
            "- setWeight: 10\n- analysis: {templates: [{templateName: success-rate}]}\n",
            [
                'canarist.io/analysis.metrics[1].name: metric "p99" is measured by no analysis '
                "step and there is no background analysis: add `background: true` to measure it "
                "during the whole release (or `startingStep: N` from step N on), or an analysis "
                "step that names it (- analysis: {templates: [{templateName: p99}]}), or remove it"
            ],
        ),
        ("background: true\n" + SR, "- setWeight: 10\n", []),
        ("startingStep: 1\n" + SR, "- setWeight: 10\n", []),
        (SR, "- setWeight: 10\n- analysis: {}\n", []),  # no templates: every metric
        (  # (and the analysis step does not claim the metrics are missing)
            "background: false\nstartingStep: 1\n" + SR,
            "- analysis: {}\n",
            [
                "canarist.io/analysis.startingStep: applies to the background run, which "
                "background: false turns off; remove one of them"
            ],
        ),
    ],
)
def test_every_metric_is_measured_by_something(
    analysis: str, steps: str, problems: list[str]
) -> None:
    ann = {"canarist.io/analysis": analysis, "canarist.io/steps": steps}
    try:
        parse_canary_spec(ann, deployment="web")
        got: list[str] = []
    except SpecError as exc:
        got = [str(p) for p in exc.problems]
    assert got == problems
