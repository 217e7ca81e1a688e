"""canarist.io/steps: Argo Rollouts' step syntax, each rule with its field path."""

from __future__ import annotations

import pytest

from webhook.errors import SpecError
from webhook.spec import (
    AnalysisStep,
    Pause,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    StringMatch,
    parse_canary_spec,
)
from webhook.spec.matches import HeaderMatch, MirrorMatch

ANALYSIS = "metrics: [{name: success-rate, provider: builtin, min: 0.9}]"


def steps_of(text: str, **extra: str) -> tuple[object, ...]:
    ann = {
        "canarist.io/steps": text,
        "canarist.io/traffic-router": "istio",
        "canarist.io/istio-virtual-service": "web",
        **extra,
    }
    return parse_canary_spec(ann).spec.steps


def problems_of(text: str, **extra: str) -> list[str]:
    ann = {"canarist.io/steps": text, **extra}
    with pytest.raises(SpecError) as info:
        parse_canary_spec(ann)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- setWeight: 20", (SetWeight(20),)),
        ("- setWeight: 0\n- setWeight: 100", (SetWeight(0), SetWeight(100))),
        ("- pause: {}", (Pause(None),)),
        ("- pause:", (Pause(None),)),
        ("- pause: {duration: 30s}", (Pause(30.0),)),
        ("- pause: {duration: 30}", (Pause(30.0),)),
        ('- pause: {duration: "45"}', (Pause(45.0),)),
        ("- pause: {duration: 1m}", (Pause(60.0),)),
        ("- pause: {duration: 1h}", (Pause(3600.0),)),
        ("- pause: {duration: 1h30m}", (Pause(5400.0),)),
        ("- pause: {duration: 250ms}", (Pause(0.25),)),
        ("- setCanaryScale: {replicas: 3}", (SetCanaryScale(replicas=3),)),
        ("- setCanaryScale: {weight: 25}", (SetCanaryScale(weight=25),)),
        (
            "- setCanaryScale: {matchTrafficWeight: true}",
            (SetCanaryScale(match_traffic_weight=True),),
        ),
        (
            "- setHeaderRoute: {name: beta, match: [{headerName: X-Canary, "
            'headerValue: {exact: "true"}}]}',
            (SetHeaderRoute("beta", (HeaderMatch("X-Canary", StringMatch.of("exact", "true")),)),),
        ),
        ("- setHeaderRoute: {name: beta}", (SetHeaderRoute("beta", ()),)),
        (
            "- setMirrorRoute: {name: m, percentage: 35, match: [{method: {exact: GET}, "
            "path: {prefix: /api}, headers: {x-user: {regex: 'a.*'}}}]}",
            (
                SetMirrorRoute(
                    "m",
                    35,
                    (
                        MirrorMatch(
                            StringMatch.of("exact", "GET"),
                            StringMatch.of("prefix", "/api"),
                            (HeaderMatch("x-user", StringMatch.of("regex", "a.*")),),
                        ),
                    ),
                ),
            ),
        ),
        ("- setMirrorRoute: {name: m}", (SetMirrorRoute("m", 100, ()),)),
        # pasted straight from a Rollout's strategy.canary
        ("steps:\n- setWeight: 5\n- pause: {}", (SetWeight(5), Pause(None))),
        # JSON is YAML too
        ('[{"setWeight": 10}, {"pause": {"duration": "10s"}}]', (SetWeight(10), Pause(10.0))),
    ],
)
def test_valid_steps_parse_to_dataclasses(text: str, expected: tuple[object, ...]) -> None:
    assert steps_of(text) == expected


def test_analysis_step_names_metrics_of_the_analysis_annotation() -> None:
    steps = steps_of(
        "- analysis: {templates: [{templateName: success-rate}], count: 2, interval: 10s}",
        **{"canarist.io/analysis": ANALYSIS},
    )
    assert steps == (AnalysisStep(("success-rate",), (), 2, 10.0),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- setWeight: 150", "canarist.io/steps[0].setWeight: must be between 0 and 100, got 150"),
        ("- setWeight: -1", "canarist.io/steps[0].setWeight: must be between 0 and 100, got -1"),
        (
            "- setWeight: 2.5",
            "canarist.io/steps[0].setWeight: must be an integer between 0 and 100",
        ),
        ('- setWeight: "20"', "canarist.io/steps[0].setWeight: must be an integer"),
        (
            "- setWeight: 10\n  pause: {}",
            "canarist.io/steps[0]: a step must have exactly one action, got setWeight, pause",
        ),
        (
            "- setweight: 10",
            'canarist.io/steps[0].setweight: unknown step "setweight" (did you mean "setWeight"?)',
        ),
        ("- {}", "canarist.io/steps[0]: empty step"),
        ("- experiment: {}", "canarist.io/steps[0].experiment: experiment steps are not supported"),
        ("- pause: {duration: 3x}", 'canarist.io/steps[0].pause.duration: invalid duration "3x"'),
        (
            "- pause: {duration: -5}",
            "canarist.io/steps[0].pause.duration: duration must not be negative",
        ),
        ("- pause: {duration: 30s, until: x}", "canarist.io/steps[0].pause.until: unknown key"),
        (
            "- setCanaryScale: {}",
            "canarist.io/steps[0].setCanaryScale: must set exactly one of "
            "replicas, weight, matchTrafficWeight; got none",
        ),
        (
            "- setCanaryScale: {replicas: 1, weight: 2}",
            "canarist.io/steps[0].setCanaryScale: must set exactly one of replicas, weight, "
            "matchTrafficWeight; got replicas and weight",
        ),
        ("- setCanaryScale: {matchTrafficWeight: false}", "must be true"),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: X, headerValue: {}}]}",
            "canarist.io/steps[0].setHeaderRoute.match[0].headerValue: must set exactly one of "
            "exact, prefix, regex; got none",
        ),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: X, headerValue: "
            "{exact: a, prefix: b}}]}",
            "must set exactly one of exact, prefix, regex; got exact and prefix",
        ),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: X, headerValue: {regex: '(a'}}]}",
            "canarist.io/steps[0].setHeaderRoute.match[0].headerValue.regex: invalid regular "
            'expression "(a"',
        ),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: X, headerValue: {regex: '(?=a)b'}}]}",
            "look-around and back-references are not supported",
        ),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: X, headerValue: {exact: true}}]}",
            "headerValue.exact: must be a string, got boolean (YAML read true as a boolean; "
            'quote it: "true")',
        ),
        (
            "- setHeaderRoute: {name: h, match: [{headerName: 'bad name', "
            "headerValue: {exact: a}}]}",
            'match[0].headerName: invalid HTTP header name "bad name"',
        ),
        ("- setHeaderRoute: {name: h, match: []}", "must not be empty (omit match to remove"),
        ("- setHeaderRoute: {match: []}", "canarist.io/steps[0].setHeaderRoute.name: is required"),
        ("- setHeaderRoute: {name: Bad_Name}", 'invalid route name "Bad_Name"'),
        ("- setMirrorRoute: {name: m, percentage: 101}", "percentage: must be between 0 and 100"),
        (
            "- setHeaderRoute: {name: r}\n- setMirrorRoute: {name: r}",
            'canarist.io/steps[1].setMirrorRoute.name: route "r" is already used by a '
            "setHeaderRoute step",
        ),
        ("setWeight: 10", "canarist.io/steps: must be a list, got mapping"),
        ("- setWeight: [1,\n", "canarist.io/steps: YAML does not parse at line 2"),
        ("- setWeight: 1\n- setWeight: 1\n  setWeight: 2", "duplicate key 'setWeight'"),
        (
            "- analysis: {}",
            "canarist.io/steps[0].analysis: needs metrics: define them in canarist.io/analysis",
        ),
    ],
)
def test_invalid_steps_are_reported_with_their_path(text: str, expected: str) -> None:
    problems = problems_of(
        text, **{"canarist.io/traffic-router": "istio", "canarist.io/istio-virtual-service": "web"}
    )
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = problems_of("- setWeight: 150\n- pause: {duration: x}\n- bogus: 1\n- setWeight: 50")
    assert [p.split(":")[0] for p in problems] == [
        "canarist.io/steps[0].setWeight",
        "canarist.io/steps[1].pause.duration",
        "canarist.io/steps[2].bogus",
    ]


def test_analysis_template_must_name_a_defined_metric() -> None:
    problems = problems_of(
        "- analysis: {templates: [{templateName: latency}]}",
        **{"canarist.io/analysis": ANALYSIS},
    )
    assert problems == [
        'canarist.io/steps[0].analysis.templates[0].templateName: no metric "latency" in '
        "canarist.io/analysis (metrics: success-rate)"
    ]


def test_too_many_steps_is_refused() -> None:
    problems = problems_of("\n".join("- setWeight: 1" for _ in range(101)))
    assert problems == ["canarist.io/steps: has 101 steps; at most 100 are allowed"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an empty annotation says so (it said "must be a list, got null null")
        (
            "",
            [
                "canarist.io/steps: is empty: list the steps (e.g. - setWeight: 20), or remove "
                "the annotation for the default steps"
            ],
        ),
        ("# no steps yet\n", ["canarist.io/steps: is empty"]),
        # a pasted canary block: the extra key named, and where it belongs
        (
            "steps:\n- setWeight: 20\nmaxSurge: 1\n",
            [
                "canarist.io/steps.maxSurge: is not part of the steps: Argo's canary.maxSurge "
                "belongs in the Deployment's spec.strategy.rollingUpdate.maxSurge"
            ],
        ),
        (
            "steps: [{setWeight: 20}]\ntrafficRouting: {istio: {}}\nscaleDownDelaySeconds: 30\n",
            [
                "canarist.io/steps.trafficRouting: is not part of the steps: Argo's "
                "canary.trafficRouting belongs in the annotation canarist.io/traffic-router",
                "canarist.io/steps.scaleDownDelaySeconds: is not part of the steps: Argo's "
                "canary.scaleDownDelaySeconds belongs in the annotation "
                "canarist.io/scale-down-delay",
            ],
        ),
        (
            "canary:\n  steps: [{setWeight: 5}]\n",
            [
                "canarist.io/steps.canary: paste only the list under "
                "spec.strategy.canary.steps, not the canary block"
            ],
        ),
        (
            "steps: [{setWeight: 5}]\nbogus: 1\n",
            ['canarist.io/steps.bogus: unknown key "bogus": this annotation holds the list'],
        ),
    ],
)
def test_pasted_or_empty_steps_say_what_to_do(text: str, expected: list[str]) -> None:
    got = problems_of(text)
    assert len(got) == len(expected), got
    for problem, start in zip(got, expected, strict=True):
        assert problem.startswith(start), got


def test_a_pasted_steps_key_alone_is_the_list() -> None:
    spec = parse_canary_spec({"canarist.io/steps": "steps:\n- setWeight: 20\n"}).spec
    assert spec.steps == (SetWeight(20),)
