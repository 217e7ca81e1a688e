"""Header-route regexes: RE2 syntax, validated and matched by RE2 (linear time)."""

from __future__ import annotations

import time

import pytest

from webhook.errors import SpecError
from webhook.spec.canary import parse_canary_spec
from webhook.spec.matches import InvalidRegex, StringMatch, compile_regex

STEPS = """\
- setHeaderRoute:
    name: beta
    match:
    - headerName: x-beta
      headerValue: {{regex: '{regex}'}}
"""


def spec_problems(regex: str) -> str:
    with pytest.raises(SpecError) as err:
        parse_canary_spec({
            "canarist.io/steps": STEPS.format(regex=regex.replace("'", "''")),
            "canarist.io/traffic-router": "istio",
            "canarist.io/istio-virtual-service": "web",
        })
    return str(err.value)


PATH = "canarist.io/steps[0].setHeaderRoute.match[0].headerValue.regex"


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        ("a{4294967296}", "repetition count 4294967296 is over 1000"),
        ("a{2,4294967296}", "repetition count 4294967296 is over 1000"),
        ("a{1001}", "repetition count 1001 is over 1000"),
        ("(a{100}){100}", "invalid repetition size"),
        ("(?=a)b", "look-around and back-references are not supported"),
        ("(a)\\1", "look-around and back-references are not supported"),
        ("(?<!a)b", "look-around and back-references are not supported"),
        ("a" * 1025, "longer than 1024 characters"),
        ("(", "missing )"),
        ("a**", "bad repetition operator"),
        ("\\8", "look-around and back-references are not supported"),
        ("[[:nope:]]", "invalid character class range"),
    ],
)
def test_what_re2_or_a_limit_refuses_is_denied_with_its_path(regex: str, reason: str) -> None:
    text = spec_problems(regex)
    assert f"{PATH}: invalid regular expression" in text
    assert reason in text


def test_a_pattern_with_a_huge_program_is_refused() -> None:
    with pytest.raises(InvalidRegex, match="RE2 program size"):
        compile_regex(".{1000}" * 5)  # 40005 instructions
    with pytest.raises(InvalidRegex, match="pattern too large"):
        compile_regex("\\pL{1000}")  # over RE2's own memory budget


@pytest.mark.parametrize("regex", ["\\pL+", "[[:alpha:]]+", "(?i)beta", "(?P<n>a)b", "(a+)+$"])
def test_re2_syntax_is_accepted(regex: str) -> None:
    parse_canary_spec({
        "canarist.io/steps": STEPS.format(regex=regex),
        "canarist.io/traffic-router": "istio",
        "canarist.io/istio-virtual-service": "web",
    })


def test_matching_is_linear_where_a_backtracking_engine_explodes() -> None:
    match = StringMatch.of("regex", "(a+)+$")
    started = time.monotonic()
    for n in (26, 1000, 100_000):
        assert not match.matches("a" * n + "b")
        assert match.matches("a" * n)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("regex", "value", "expected"),
    [
        ("beta-.*", "beta-1", True),
        ("beta-.*", "xbeta-1", False),  # a full match, as Envoy
        ("qa|dev", "dev", True),
        ("qa|dev", "qa2", False),
        ("é+", "éé", True),
        ("a.c", "aéc", True),  # one character, not one byte
        ("\\pN+", "٣٠", True),
    ],
)
def test_full_matches(regex: str, value: str, expected: bool) -> None:
    assert StringMatch.of("regex", regex).matches(value) is expected
