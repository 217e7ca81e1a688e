"""hypothesis with hostile shapes: anchors and aliases, deep nesting, NaN and infinities, non-ASCII
digits, regular expressions. Whatever the text, the annotation parsers answer quickly with the
spec or a SpecError, and an accepted spec holds only finite numbers."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webhook.errors import ConfigError, SpecError
from webhook.spec import parse_canary_spec
from webhook.spec.matches import InvalidRegex, StringMatch
from webhook.spec.routetable import parse_route_table

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUND = 1.0  # seconds for one parse, whatever the text

numbers = st.sampled_from([".nan", ".NaN", ".inf", "-.inf", "1e999", "1.0e+999", "٣٠", "٣٠s",
                           "1_000", "0x1f", "-0", "10", "30s", "1h30m", "2.5", "99999999999999"])
regexes = st.text(st.sampled_from(list("a+*?(){}[]|.\\^$0123456789,=!<:-wdsP")), max_size=24)
keys = st.sampled_from(["setWeight", "pause", "duration", "setCanaryScale", "replicas",
                        "setHeaderRoute", "name", "match", "headerName", "headerValue", "regex",
                        "min", "max", "metrics", "provider", "count", "interval"])


@st.composite
def aliased(draw: st.DrawFn) -> str:
    """A YAML text using anchors and aliases, possibly a small billion-laughs."""
    width = draw(st.integers(1, 9))
    levels = draw(st.integers(1, 6))
    lines = [f"{draw(keys)}0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"k{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    if draw(st.booleans()):
        lines.append("merged: {<<: *a0}")
    return "\n".join(lines) + "\n"


@st.composite
def nested(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 3000))
    style = draw(st.sampled_from(["flow", "block", "mixed"]))
    if style == "flow":
        return "[" * depth + draw(st.sampled_from(["", "1", "]" * depth]))
    if style == "block":
        return "".join(f"{' ' * (2 * i)}- {draw(keys)}:\n" for i in range(min(depth, 400)))
    return "- " + "{a: [" * depth


@st.composite
def numeric_steps(draw: st.DrawFn) -> str:
    value = draw(numbers)
    template = draw(st.sampled_from([
        "- setWeight: {v}\n", "- pause: {{duration: {v}}}\n",
        "- setCanaryScale: {{replicas: {v}}}\n", "- analysis: {{count: {v}, interval: {v}}}\n",
    ]))
    return template.format(v=value)


@st.composite
def regex_steps(draw: st.DrawFn) -> str:
    regex = draw(regexes).replace("'", "''")
    return ("- setHeaderRoute:\n    name: r\n    match:\n    - headerName: x-r\n"
            f"      headerValue: {{regex: '{regex}'}}\n")


texts = aliased() | nested() | numeric_steps() | regex_steps()


def finite_numbers(value: Any) -> None:
    """Every float in a parsed spec (dataclasses, tuples) is finite."""
    if isinstance(value, float):
        assert math.isfinite(value), value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            finite_numbers(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            finite_numbers(item)


@SETTINGS
@given(texts, st.sampled_from(["canarist.io/steps", "canarist.io/analysis"]))
@example("a: &a [1]\nb: *a\n", "canarist.io/steps")
@example("- pause: {duration: .nan}\n", "canarist.io/steps")
def test_hostile_annotation_texts(text: str, key: str) -> None:
    started = time.monotonic()
    try:
        parsed = parse_canary_spec({key: text, "canarist.io/traffic-router": "proxy"})
    except SpecError as exc:
        assert all(p.path.startswith("canarist.io/") or not p.path for p in exc.problems)
    else:
        finite_numbers(parsed.spec)
    assert time.monotonic() - started < BOUND, text[:200]


@SETTINGS
@given(texts)
def test_hostile_route_tables(text: str) -> None:
    started = time.monotonic()
    table = "routes:\n- name: web\n  stable: {endpoints: ['127.0.0.1:9']}\n  x: " + text
    with contextlib.suppress(ConfigError):
        parse_route_table(table, "routes.yaml")
    assert time.monotonic() - started < BOUND


@SETTINGS
@given(regexes, st.text(st.sampled_from("ab-x0"), max_size=4000))
def test_any_pattern_compiles_or_is_refused_and_matches_in_bounded_time(
    regex: str, value: str
) -> None:
    try:
        match = StringMatch.of("regex", regex)
    except InvalidRegex:
        return
    started = time.monotonic()
    match.matches(value)
    assert time.monotonic() - started < 0.1
