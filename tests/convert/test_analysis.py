"""AnalysisTemplates as canarist.io/analysis: providers, args, limits, steps and background."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.spec import names, parse_canary_spec

from .helpers import annotations_of, changed, parsed, refused, rollout, run, template

PROM = {"prometheus": {"address": "http://prometheus:9090", "query": "sum(up{job='{{args.job}}'})"}}


def prom(name: str = "up", **extra: Any) -> dict[str, Any]:
    return {"name": name, "successCondition": "result[0] >= 1", "provider": PROM, **extra}


def step_analysis(*templates: str, args: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"templates": [{"templateName": t} for t in templates]}
    if args is not None:
        body["args"] = args
    return {"analysis": {**body, **extra}}


def valid(conv) -> None:
    parse_canary_spec(annotations_of(conv), deployment="web")


def test_a_step_analysis_names_the_templates_metrics_with_count_and_interval() -> None:
    conv = run(
        rollout({"steps": [{"setWeight": 20},
                           step_analysis("t", args=[{"name": "job", "value": "web"}])]}),
        template("t", [prom(interval="1m", count=5, failureLimit=1)], args=[{"name": "job"}]),
    )
    valid(conv)
    assert parsed(conv, names.STEPS) == [
        {"setWeight": 20},
        {"analysis": {"templates": [{"templateName": "up"}], "count": 5, "interval": "1m"}},
    ]
    assert parsed(conv, names.ANALYSIS) == {
        "failureLimit": 1,
        "background": False,
        "metrics": [{"name": "up", "provider": {"prometheus": {
            "address": "http://prometheus:9090", "query": "sum(up{job='web'})"}}, "min": 1}],
    }
    assert conv.complete


def test_no_count_and_no_interval_is_one_measurement() -> None:
    conv = run(rollout({"steps": [step_analysis("t")]}),
               template("t", [prom()], args=[{"name": "job", "value": "default"}]))
    assert parsed(conv, names.STEPS) == [{"analysis": {"templates": [{"templateName": "up"}],
                                                       "count": 1}}]
    assert "job='default'" in str(parsed(conv, names.ANALYSIS))


def test_background_analysis_with_starting_step_and_field_ref_args() -> None:
    canary = {"analysis": {"templates": [{"templateName": "t"}], "startingStep": 2,
                           "args": [{"name": "job", "valueFrom": {"fieldRef": {
                               "fieldPath": "metadata.labels['team']"}}}]},
              "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}]}
    r = rollout(canary)
    r["metadata"]["labels"] = {"team": "shop"}
    conv = run(r, template("t", [prom(interval="5m")], args=[{"name": "job"}]))
    valid(conv)
    ann = parsed(conv, names.ANALYSIS)
    assert ann["background"] is True and ann["startingStep"] == 2 and ann["interval"] == "5m"
    assert ann["metrics"][0]["provider"]["prometheus"]["query"] == "sum(up{job='shop'})"
    assert any("fixed at conversion to 'shop'" in line for line in changed(conv))


def test_starting_step_follows_steps_that_were_split() -> None:
    canary = {"analysis": {"templates": [{"templateName": "t"}], "startingStep": 2},
              "trafficRouting": {"istio": {"virtualService": {"name": "vs"}}},
              "canaryService": "c", "stableService": "s",
              "steps": [{"setHeaderRoute": {"name": "h", "match": [
                  {"headerName": "a", "headerValue": {"exact": "1"}},
                  {"headerName": "b", "headerValue": {"exact": "2"}}]}},
                  {"setWeight": 10}, {"setWeight": 50}]}
    conv = run(rollout(canary), template("t", [prom(interval="5m")],
                                         args=[{"name": "job", "value": "x"}]))
    steps = parsed(conv, names.STEPS)
    assert steps[3] == {"setWeight": 50}
    assert parsed(conv, names.ANALYSIS)["startingStep"] == 3


@pytest.mark.parametrize(
    ("arg", "why"),
    [
        ({"name": "job", "valueFrom": {"podTemplateHashValue": "Latest"}},
         "is the Latest pod-template hash"),
        ({"name": "job", "valueFrom": {"fieldRef": {
            "fieldPath": "status.alb.canaryTargetGroup.name"}}},
         "which Argo Rollouts writes at run time"),
        ({"name": "other", "value": "x"}, "arg 'job' has no value"),
    ],
)
def test_args_known_only_at_run_time_leave_the_metric_out(arg: dict[str, Any], why: str) -> None:
    conv = run(rollout({"steps": [step_analysis("t", args=[arg])]}),
               template("t", [prom()], args=[{"name": "job"}]))
    assert any(why in line for line in refused(conv))
    assert parsed(conv, names.STEPS) == [{"pause": {}}]
    assert names.ANALYSIS not in annotations_of(conv)
    valid(conv)


def test_namespace_field_ref_needs_a_namespace() -> None:
    arg = {"name": "job", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    conv = run(rollout({"steps": [step_analysis("t", args=[arg])]}, namespace=None),
               template("t", [prom()], args=[{"name": "job"}]))
    assert any("the Rollout in the input has none" in line for line in refused(conv))
    conv = run(rollout({"steps": [step_analysis("t", args=[arg])]}),
               template("t", [prom()], args=[{"name": "job"}]))
    assert conv.complete and "job='shop'" in annotations_of(conv)[names.ANALYSIS]


def test_secret_args_are_not_resolved() -> None:
    conv = run(rollout({"steps": [step_analysis("t")]}),
               template("t", [prom()], args=[{"name": "job", "valueFrom": {
                   "secretKeyRef": {"name": "s", "key": "k"}}}]))
    assert any("read from a Secret" in line for line in refused(conv))


def test_datadog_and_web_providers() -> None:
    dd = {"name": "errors", "interval": "5m", "successCondition": "result <= 0.01",
          "provider": {"datadog": {"apiVersion": "v2", "interval": "5m", "query": "sum:e{a}",
                                   "secretRef": {"name": "dd", "namespaced": True}}}}
    web = {"name": "Smoke_Test", "successCondition": "result == true",
           "provider": {"web": {"url": "http://ci/x", "method": "POST", "jsonPath": "{$.data.ok}",
                                "jsonBody": {"a": 1}, "timeoutSeconds": 20,
                                "headers": [{"key": "A", "value": "b"}]}}}
    conv = run(rollout({"steps": [step_analysis("t")]}), template("t", [dd, web]))
    valid(conv)
    metrics = parsed(conv, names.ANALYSIS)["metrics"]
    assert metrics == [
        {"name": "errors", "provider": {"datadog": {"query": "sum:e{a}", "secretRef": "dd"}},
         "max": 0.01},
        {"name": "smoke-test", "provider": {"web": {
            "url": "http://ci/x", "method": "POST", "headers": [{"key": "A", "value": "b"}],
            "body": '{"a":1}', "jsonPath": "$.data.ok", "timeoutSeconds": 20}},
         "min": 1, "max": 1},
    ]
    text = "\n".join(changed(conv))
    assert "v1 API" in text and "Secret 'dd'" in text and "renamed 'Smoke_Test'" in text
    assert conv.complete


@pytest.mark.parametrize(
    ("metric", "why"),
    [
        ({"provider": {"job": {"spec": {}}}}, "canarist has no job provider"),
        ({"provider": {"newRelic": {"query": "x"}}}, "canarist has no newRelic provider"),
        ({"provider": {"prometheus": {"address": "http://p", "query": "q",
                                      "rangeQuery": {"step": "1m"}}}}, "instant queries only"),
        ({"provider": {"datadog": {"queries": {"a": "x"}, "formula": "a"}}}, "not queries and a"),
        ({"provider": {"web": {"url": "http://x", "method": "PUT"}}}, "not PUT"),
        ({"successCondition": "result > 1 && result < 5"}, "not a single comparison"),
        ({"failureLimit": -1}, "means failures never fail"),
        ({"provider": {"prometheus": {"address": "ftp://p", "query": "q"}}},
         "canarist refuses the converted metric"),
    ],
)
def test_metrics_that_do_not_convert_are_left_out_and_reported(metric, why) -> None:
    base = {"name": "m", "successCondition": "result >= 1", "provider": PROM}
    conv = run(rollout({"steps": [step_analysis("t")]}),
               template("t", [{**base, **metric}], args=[{"name": "job", "value": "x"}]))
    assert any(why in line for line in refused(conv)), refused(conv)
    assert parsed(conv, names.STEPS) == [{"pause": {}}]
    valid(conv)


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"initialDelay": "1m"}, "initialDelay"),
        ({"inconclusiveLimit": 2}, "inconclusiveLimit"),
        ({"provider": {"prometheus": {"address": "http://p", "query": "q",
                                      "headers": [{"key": "a", "value": "b"}]}}}, "headers"),
        ({"provider": {"web": {"url": "https://x", "insecure": True}}}, "insecure"),
    ],
)
def test_unsupported_options_are_reported_and_the_metric_kept(extra, why) -> None:
    base = {"name": "m", "successCondition": "result >= 1", "provider": PROM}
    conv = run(rollout({"steps": [step_analysis("t")]}),
               template("t", [{**base, **extra}], args=[{"name": "job", "value": "x"}]))
    assert any(why in line for line in refused(conv))
    assert parsed(conv, names.STEPS)[0]["analysis"]["templates"] == [{"templateName": "m"}]


def test_the_same_template_with_other_args_is_another_metric() -> None:
    steps = [step_analysis("t", args=[{"name": "job", "value": "a"}]), {"setWeight": 50},
             step_analysis("t", args=[{"name": "job", "value": "b"}]),
             step_analysis("t", args=[{"name": "job", "value": "a"}])]
    conv = run(rollout({"steps": steps}), template("t", [prom()], args=[{"name": "job"}]))
    valid(conv)
    named = [s["analysis"]["templates"][0]["templateName"] for s in parsed(conv, names.STEPS)
             if "analysis" in s]
    assert named == ["up", "up-2", "up"]
    assert len(parsed(conv, names.ANALYSIS)["metrics"]) == 2


def test_cluster_templates_dry_run_and_missing_templates() -> None:
    dry = template("t", [prom("a"), prom("b")], dryRun=[{"metricName": "b"}],
                   args=[{"name": "job", "value": "x"}])
    steps = [{"analysis": {"templates": [{"templateName": "t"},
                                         {"templateName": "c", "clusterScope": True}]}},
             step_analysis("missing")]
    conv = run(rollout({"steps": steps}), dry,
               template("c", [prom("c")], args=[{"name": "job", "value": "y"}], cluster=True))
    valid(conv)
    assert parsed(conv, names.STEPS)[0]["analysis"]["templates"] == [
        {"templateName": "a"}, {"templateName": "c"}]
    assert parsed(conv, names.STEPS)[1] == {"pause": {}}
    text = "\n".join(refused(conv))
    assert "dry-run metric" in text and "AnalysisTemplate 'missing' is not in the input" in text


def test_limits_that_differ_take_the_strictest() -> None:
    conv = run(rollout({"analysis": {"templates": [{"templateName": "t"}]}, "steps": []}),
               template("t", [prom("a", interval="1m", failureLimit=3),
                              prom("b", interval="30s", failureLimit=1, consecutiveErrorLimit=2)],
                        args=[{"name": "job", "value": "x"}]))
    ann = parsed(conv, names.ANALYSIS)
    assert (ann["interval"], ann["failureLimit"], ann["consecutiveErrorLimit"]) == ("30s", 1, 2)
    assert len(changed(conv)) == 3


def test_templates_are_left_out_once_converted_or_kept_when_unused() -> None:
    conv = run(rollout({"steps": [step_analysis("t")]}),
               template("t", [prom()], args=[{"name": "job", "value": "x"}]),
               template("unused", [prom()]))
    kinds = [(o["kind"], o["metadata"]["name"]) for o in conv.objects]
    assert kinds == [("Deployment", "web"), ("AnalysisTemplate", "unused")]
    assert any("no Rollout in the input uses it" in line for line in refused(conv))


@pytest.mark.parametrize(("extra", "noted"), [({"interval": "1m", "count": 0}, False),
                                              ({"interval": "1m"}, False),
                                              ({"interval": "1m", "count": 5}, True),
                                              ({}, True)])
def test_background_counts(extra: dict[str, Any], noted: bool) -> None:
    """Argo's background metric with count 0 (or none, with an interval) runs until the rollout
    ends, as canarist's; a fixed count (one measurement without interval) does not."""
    conv = run(rollout({"analysis": {"templates": [{"templateName": "t"}]}, "steps": []}),
               template("t", [prom(**extra)], args=[{"name": "job", "value": "x"}]))
    assert any("until the release ends" in line for line in changed(conv)) is noted


def test_a_template_without_metrics_is_reported_as_such() -> None:
    bad = template("t", [])
    bad["spec"] = ["not", "a", "mapping"]
    conv = run(rollout({"steps": [step_analysis("t")]}), bad)
    assert any("spec.metrics: not convertible: must be a list of metrics" in line
               for line in refused(conv)), refused(conv)
    assert parsed(conv, names.STEPS) == [{"pause": {}}]
