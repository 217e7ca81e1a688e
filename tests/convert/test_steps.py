"""Steps: verbatim, with the few rewrites canarist needs; the result always validates."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.spec import names, parse_canary_spec

from .helpers import annotations_of, changed, parsed, refused, rollout, run

ISTIO = {"trafficRouting": {"istio": {"virtualService": {"name": "vs"}}},
         "canaryService": "web-canary", "stableService": "web"}
HDR_A = {"headerName": "X-A", "headerValue": {"exact": "1"}}
HDR_B = {"headerName": "X-B", "headerValue": {"prefix": "b"}}
MIRROR = {"name": "m", "percentage": 35, "match": [{"method": {"exact": "GET"},
                                                    "path": {"prefix": "/"}}]}


@pytest.mark.parametrize(
    ("canary", "steps", "outcome"),
    [
        ({}, [{"setWeight": 20}, {"pause": {"duration": "1m"}}, {"pause": None},
              {"pause": {"duration": 30}}],
         [{"setWeight": 20}, {"pause": {"duration": "1m"}}, {"pause": {}},
          {"pause": {"duration": 30}}]),
        (ISTIO, [{"setCanaryScale": {"replicas": 2}},
                 {"setHeaderRoute": {"name": "h", "match": [HDR_A]}},
                 {"setMirrorRoute": MIRROR}, {"setCanaryScale": {"matchTrafficWeight": True}},
                 {"setHeaderRoute": {"name": "h"}}],
         [{"setCanaryScale": {"replicas": 2}}, {"setHeaderRoute": {"name": "h", "match": [HDR_A]}},
          {"setMirrorRoute": MIRROR}, {"setCanaryScale": {"matchTrafficWeight": True}},
          {"setHeaderRoute": {"name": "h"}}]),
        # Argo's Istio router ORs the match entries: one route each; the removal removes both.
        (ISTIO, [{"setHeaderRoute": {"name": "h", "match": [HDR_A, HDR_B]}}, {"pause": {}},
                 {"setHeaderRoute": {"name": "h", "match": [HDR_B]}},
                 {"setHeaderRoute": {"name": "h"}}],
         [{"setHeaderRoute": {"name": "h", "match": [HDR_A]}},
          {"setHeaderRoute": {"name": "h-2", "match": [HDR_B]}}, {"pause": {}},
          {"setHeaderRoute": {"name": "h", "match": [HDR_B]}},
          {"setHeaderRoute": {"name": "h-2"}},
          {"setHeaderRoute": {"name": "h"}}]),
        # An experiment or a plugin step: a pause, so the release waits for a person.
        ({}, [{"setWeight": 10}, {"experiment": {"templates": []}}, {"plugin": {"name": "p"}}],
         [{"setWeight": 10}, {"pause": {}}, {"pause": {}}]),
        # Several actions in one step (APISIX's docs): one step each.
        (ISTIO, [{"setCanaryScale": {"weight": 10},
                  "setHeaderRoute": {"name": "h", "match": [HDR_A]}}],
         [{"setCanaryScale": {"weight": 10}}, {"setHeaderRoute": {"name": "h", "match": [HDR_A]}}]),
        # maxTrafficWeight: weights in percent.
        ({"trafficRouting": {"nginx": {"stableIngress": "i"}, "maxTrafficWeight": 1000},
          "canaryService": "web-canary", "stableService": "web"},
         [{"setWeight": 50}, {"setCanaryScale": {"weight": 255}}],
         [{"setWeight": 5}, {"setCanaryScale": {"weight": 26}}]),
    ],
)
def test_steps(canary: dict[str, Any], steps: list[Any], outcome: list[Any]) -> None:
    conv = run(rollout({**canary, "steps": steps}))
    assert parsed(conv, names.STEPS) == outcome
    parse_canary_spec(annotations_of(conv), deployment="web")


def test_no_steps_is_an_empty_list() -> None:
    conv = run(rollout({}))
    assert annotations_of(conv)[names.STEPS] == "[]\n"
    assert conv.complete


def test_a_step_canarist_refuses_becomes_a_pause_with_the_reason() -> None:
    # A look-ahead is not RE2: Istio would refuse it too, but Argo passes it on.
    bad = {"setHeaderRoute": {"name": "h", "match": [
        {"headerName": "X", "headerValue": {"regex": "a(?=b)"}}]}}
    conv = run(rollout({**ISTIO, "steps": [{"setWeight": 5}, bad]}))
    assert parsed(conv, names.STEPS) == [{"setWeight": 5}, {"pause": {}}]
    (line,) = refused(conv)
    assert line.startswith("Rollout shop/web: spec.strategy.canary.steps[1]: not convertible: "
                           "canarist refuses the step (canarist.io/steps[1].setHeaderRoute")
    assert "look-around" in line


def test_unknown_step_fields_are_reported() -> None:
    conv = run(rollout({"steps": [{"setWeight": 5, "setWieght": 6}]}))
    assert parsed(conv, names.STEPS) == [{"setWeight": 5}]
    assert any("unknown step action 'setWieght'" in line for line in refused(conv))


def test_weight_rescaling_is_reported() -> None:
    conv = run(rollout({"trafficRouting": {"nginx": {"stableIngress": "i"},
                                           "maxTrafficWeight": 1000},
                        "canaryService": "c", "stableService": "s", "steps": [{"setWeight": 15}]}))
    assert any("15 of maxTrafficWeight 1000 is 2% (rounded)" in line for line in changed(conv))
