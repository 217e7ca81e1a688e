"""Weights split between stable and canary; combining request matches; regex escaping."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.errors import RouterError
from webhook.routers.matching import NEVER, intersect, split_pair
from webhook.spec import StringMatch
from webhook.spec.matches import regex_escape


@pytest.mark.parametrize(
    ("pair", "weight", "expected"),
    [
        (100, 0, (100, 0)),
        (100, 20, (80, 20)),
        (100, 100, (0, 100)),
        (60, 50, (30, 30)),
        (10, 25, (7, 3)),  # 2.5 rounds half up
        (10, 24, (8, 2)),
        (0, 50, (0, 0)),
        (1, 49, (1, 0)),
        (1, 50, (0, 1)),
    ],
)
def test_split_pair(pair: int, weight: int, expected: tuple[int, int]) -> None:
    assert split_pair(pair, weight) == expected


@pytest.mark.parametrize("weight", [-1, 101])
def test_split_pair_refuses_weights_outside_0_100(weight: int) -> None:
    with pytest.raises(RouterError, match="between 0 and 100"):
        split_pair(100, weight)


@given(st.integers(0, 1_000_000), st.integers(0, 100))
def test_split_pair_keeps_the_total_and_is_closest(pair: int, weight: int) -> None:
    stable, canary = split_pair(pair, weight)
    assert stable + canary == pair
    assert stable >= 0 and canary >= 0
    assert abs(canary - pair * weight / 100) <= 0.5


E, P, R = "exact", "prefix", "regex"


def m(kind: str, value: str) -> StringMatch:
    return StringMatch.of(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        (None, None, None),
        (m(E, "a"), None, m(E, "a")),
        (None, m(P, "/"), m(P, "/")),
        (m(E, "/api/x"), m(P, "/api"), m(E, "/api/x")),
        (m(E, "/web"), m(P, "/api"), NEVER),
        (m(P, "/api/v2"), m(P, "/api"), m(P, "/api/v2")),
        (m(P, "/api"), m(P, "/api/v2"), m(P, "/api/v2")),
        (m(P, "/a"), m(P, "/b"), NEVER),
        (m(E, "x"), m(E, "x"), m(E, "x")),
        (m(E, "x"), m(E, "y"), NEVER),
        (m(R, "v[0-9]+"), m(E, "v12"), m(E, "v12")),
        (m(E, "vx"), m(R, "v[0-9]+"), NEVER),
        (m(R, "a.*"), m(R, "a.*"), m(R, "a.*")),
    ],
)
def test_intersect(ours: StringMatch | None, theirs: StringMatch | None, expected: object) -> None:
    assert intersect(ours, theirs, "here") == expected


@pytest.mark.parametrize(
    ("ours", "theirs"), [(m(R, "a.*"), m(P, "/")), (m(P, "/"), m(R, "b+")), (m(R, "a"), m(R, "b"))]
)
def test_intersect_refuses_what_it_cannot_express(ours: StringMatch, theirs: StringMatch) -> None:
    with pytest.raises(RouterError, match="here: cannot combine"):
        intersect(ours, theirs, "here")


@given(st.text(max_size=40))
def test_regex_escape_matches_only_the_text(text: str) -> None:
    pattern = re.compile(regex_escape(text))
    assert pattern.fullmatch(text)
    if text:
        assert not pattern.fullmatch(text + "x")


@given(st.text(max_size=20), st.text(max_size=20))
def test_prefix_as_regex_accepts_what_the_prefix_accepts(prefix: str, rest: str) -> None:
    pattern = re.compile(m(P, prefix).as_regex(), re.DOTALL)
    assert pattern.fullmatch(prefix + rest)
    assert bool(pattern.fullmatch(rest)) == rest.startswith(prefix)
