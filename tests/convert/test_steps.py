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


PLUGIN = {"argoproj-labs/gatewayAPI": {"httpRoute": "r"}}
GATEWAY: dict[str, Any] = {"trafficRouting": {"plugins": PLUGIN},
                           "canaryService": "web-canary", "stableService": "web"}
GATEWAY_ISTIO = {**GATEWAY, "trafficRouting": {"plugins": PLUGIN,
                                               "istio": {"virtualService": {"name": "vs"}}}}


def header_step(value: dict[str, str]) -> dict[str, Any]:
    return {"setHeaderRoute": {"name": "h", "match": [{"headerName": "X-V", "headerValue": value}]}}


@pytest.mark.parametrize(
    ("canary", "value", "written", "outcome", "note"),
    [
        # No metacharacter: the plugin's "te.*" and canarist's escaped prefix are the same.
        (GATEWAY, {"prefix": "te"}, {"prefix": "te"}, None, ""),
        (GATEWAY, {"prefix": "v1.2"}, {"regex": "v1.2.*"}, "changed",
         "Argo's Gateway API plugin wrote prefix 'v1.2' into the HTTPRoute as the regular "
         "expression 'v1.2.*', unescaped, whose metacharacters match more than the text: written "
         "as {regex: 'v1.2.*'} so the HTTPRoute matches what it matched; write {prefix: ...} to "
         "match the text itself ('v1\\\\.2.*')"),
        (GATEWAY, {"prefix": "a(b"}, {"prefix": "a(b"}, "not convertible",
         "regular expression 'a(b.*', unescaped, which RE2 refuses (missing ): a(b.*): that "
         "header route never matched; canarist matches the prefix itself ('a\\\\(b.*'); instead: "
         "keep {prefix: ...} (as written) to send that prefix to the canary, or remove the route"),
        (GATEWAY, {"prefix": "x{2000}"}, {"prefix": "x{2000}"}, "not convertible",
         "which RE2 refuses (repetition count 2000 is over 1000)"),
        # With Istio too, one match serves both routers: Istio's prefix wins.
        (GATEWAY_ISTIO, {"prefix": "v1.2"}, {"prefix": "v1.2"}, "changed",
         "Argo's Istio router matched the prefix itself, and so does canarist on both "
         "('v1\\\\.2.*' in the HTTPRoute)"),
        (GATEWAY, {"regex": "beta-.*"}, {"regex": "beta-.*"}, None, ""),
        (GATEWAY, {"exact": "a.b"}, {"exact": "a.b"}, None, ""),
    ],
)
def test_a_gateway_plugin_prefix_is_matched_as_the_plugin_matched_it(
        canary: dict[str, Any], value: dict[str, str], written: dict[str, str],
        outcome: str | None, note: str) -> None:
    conv = run(rollout({**canary, "steps": [{"setWeight": 5}, header_step(value)]}))
    steps = parsed(conv, names.STEPS)
    assert steps[1]["setHeaderRoute"]["match"][0]["headerValue"] == written
    parse_canary_spec(annotations_of(conv), deployment="web")  # as canarist validate reads it
    path = "spec.strategy.canary.steps[1].setHeaderRoute.match[0].headerValue.prefix"
    found = [line for line in changed(conv) + refused(conv) if path in line]
    if outcome is None:
        assert found == []
        return
    (line,) = found
    assert line.startswith(f"Rollout shop/web: {path}: {outcome}: "), line
    assert note in line, line


def test_a_regex_that_is_not_re2_is_refused_by_canarists_own_validation() -> None:
    conv = run(rollout({**GATEWAY, "steps": [header_step({"regex": "(a+)\\1"})]}))
    assert parsed(conv, names.STEPS) == [{"pause": {}}]
    (line,) = refused(conv)
    assert "invalid regular expression" in line and "back-references" in line


def test_a_mirror_route_the_gateway_plugin_ignored_is_reported() -> None:
    mirror = {"setMirrorRoute": {"name": "m", "percentage": 10}}
    conv = run(rollout({**GATEWAY, "steps": [mirror]}))
    assert parsed(conv, names.STEPS) == [mirror]
    assert changed(conv) == [
        "Rollout shop/web: spec.strategy.canary.steps[0].setMirrorRoute: changed: Argo's Gateway "
        "API plugin does not mirror (its SetMirrorRoute does nothing); canarist mirrors through "
        "a RequestMirror filter on the HTTPRoute"]
    assert not changed(run(rollout({**GATEWAY_ISTIO, "steps": [mirror]})))
