"""Argo's step semantics at an index: weight, sticky canary scale, active routes."""

from __future__ import annotations

import pytest

from webhook.release.stepping import describe, route_names, routes_at, scale_override_at, weight_at
from webhook.spec import (
    HeaderMatch,
    Pause,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    SetWeight,
    Step,
    StringMatch,
)
from webhook.spec.steps import AnalysisStep

BETA = SetHeaderRoute("beta", (HeaderMatch("X-Canary", StringMatch.of("exact", "1")),))
STEPS: tuple[Step, ...] = (
    SetCanaryScale(replicas=1),  # 0
    BETA,  # 1
    SetWeight(10),  # 2
    Pause(30.0),  # 3
    SetCanaryScale(match_traffic_weight=True),  # 4
    SetWeight(50),  # 5
    SetHeaderRoute("beta"),  # 6: removes the route
    Pause(),  # 7
)


@pytest.mark.parametrize(
    ("index", "weight"), [(0, 0), (1, 0), (2, 10), (3, 10), (5, 50), (7, 50), (8, 50)]
)
def test_weight_is_the_last_set_weight(index: int, weight: int) -> None:
    assert weight_at(STEPS, index) == weight


@pytest.mark.parametrize(("index", "replicas"), [(0, 1), (3, 1), (4, None), (8, None)])
def test_canary_scale_sticks_until_match_traffic_weight(index: int, replicas: int | None) -> None:
    override = scale_override_at(STEPS, index)
    assert (override.replicas if override else None) == replicas


def test_routes_are_active_between_their_steps() -> None:
    assert routes_at(STEPS, 0).keys == ()
    assert routes_at(STEPS, 1).keys == ("header/beta@1",)
    assert routes_at(STEPS, 5).header_names == ("beta",)
    assert routes_at(STEPS, 6).keys == ()
    assert route_names(STEPS) == (("beta",), ())


def test_a_redefined_route_is_a_new_identity() -> None:
    other = SetHeaderRoute("beta", (HeaderMatch("X-Other", StringMatch.of("prefix", "a")),))
    steps: tuple[Step, ...] = (BETA, SetWeight(10), other)
    assert routes_at(steps, 1).keys == ("header/beta@0",)
    assert routes_at(steps, 2).keys == ("header/beta@2",)


def test_mirror_routes() -> None:
    from webhook.spec.matches import MirrorMatch

    shadow = SetMirrorRoute("shadow", 35, (MirrorMatch(method=StringMatch.of("exact", "GET")),))
    steps: tuple[Step, ...] = (shadow, SetWeight(10), SetMirrorRoute("shadow"))
    assert routes_at(steps, 1).mirror_names == ("shadow",)
    assert routes_at(steps, 2).mirror_names == ()


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (SetWeight(20), "setWeight 20"),
        (Pause(), "pause"),
        (Pause(90.0), "pause 1m30s"),
        (SetCanaryScale(weight=25), "setCanaryScale weight 25"),
        (SetHeaderRoute("beta"), "setHeaderRoute beta (remove)"),
        (AnalysisStep(("success-rate",)), "analysis (success-rate)"),
    ],
)
def test_describe(step: Step, text: str) -> None:
    assert describe(step) == text
