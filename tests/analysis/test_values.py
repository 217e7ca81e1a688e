"""Numbers and the restricted JSON path: tables, then hypothesis against a reference walk."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.analysis.values import parse_path, select, to_number
from webhook.errors import MeasurementError

# The shape the annotation validator accepts (webhook/spec/analysis.py).
# A trailing newline passes the validator's ``$`` anchor; the runtime ignores it too.
SPEC_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*\n?\Z")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.98, 0.98),
        (3, 3.0),
        ("0.98", 0.98),
        (" 12 ", 12.0),
        ("1e3", 1000.0),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        (True, 1.0),
        (False, 0.0),
        ("true", 1.0),
        ("FALSE", 0.0),
    ],
)
def test_numbers(raw, expected):
    assert to_number(raw, "here") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "here is null, not a number"),
        ("NaN", "here is NaN (no data for the query?)"),
        (math.nan, "here is NaN (no data for the query?)"),
        ("fast", "here is the string 'fast', not a number"),
        ("", "here is the string '', not a number"),
        ({"a": 1}, "here is an object, not a number"),
        ([1], "here is a list, not a number"),
    ],
)
def test_not_numbers(raw, message):
    with pytest.raises(MeasurementError) as err:
        to_number(raw, "here")
    assert str(err.value) == message


DOC = {"data": {"rate": "0.97", "items": [{"value": 4}, {"value": None}], "ok": True},
       "my-key": 2, "list": []}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.data.rate", "0.97"),
        ("$.data.items[0].value", 4),
        ("$.data.items[1].value", None),
        ("$.data.ok", True),
        ("$.my-key", 2),
        ("$", DOC),
        ("$.data.rate\n", "0.97"),
    ],
)
def test_select(path, expected):
    assert select(DOC, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.data.missing", "$.data has no key 'missing' (jsonPath $.data.missing)"),
        ("$.data.items[2]", "$.data.items has 2 items, no [2] (jsonPath $.data.items[2])"),
        ("$.list[0]", "$.list has 0 items, no [0] (jsonPath $.list[0])"),
        ("$.data[0]", "$.data is an object, not a list (jsonPath $.data[0])"),
        ("$.data.rate.x", "$.data.rate is a string, not an object (jsonPath $.data.rate.x)"),
        ("$.data.items[1].value.x",
         "$.data.items[1].value is null, not an object (jsonPath $.data.items[1].value.x)"),
        ("data.rate", "jsonPath 'data.rate' must start with $"),
        ("$.a..b", "jsonPath '$.a..b': cannot read '..b'"),
    ],
)
def test_select_errors(path, message):
    with pytest.raises(MeasurementError) as err:
        select(DOC, path)
    assert str(err.value) == message


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True)
steps = st.lists(st.one_of(keys, st.integers(min_value=0, max_value=3)), max_size=5)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def _path(parts: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _reference(doc: Any, parts: list[str | int]) -> tuple[bool, Any]:
    node = doc
    for p in parts:
        if isinstance(p, int):
            if not isinstance(node, list) or p >= len(node):
                return False, None
        elif not isinstance(node, dict) or p not in node:
            return False, None
        node = node[p]
    return True, node


@settings(max_examples=300, deadline=None)
@given(json_values, steps)
def test_select_agrees_with_a_reference_walk(doc, parts):
    path = _path(parts)
    assert SPEC_PATH.match(path)
    assert parse_path(path) == parts
    found, expected = _reference(doc, parts)
    if found:
        assert select(doc, path) == expected
    else:
        with pytest.raises(MeasurementError, match=re.escape(f"(jsonPath {path})")):
            select(doc, path)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_path_text_parses_or_fails_cleanly(text):
    try:
        parts = parse_path(text)
    except MeasurementError:
        assert not SPEC_PATH.match(text)
    else:
        assert SPEC_PATH.match(text)
        assert _path(parts) == text.removesuffix("\n")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_to_number_only_raises_measurement_errors(value):
    try:
        number = to_number(value, "x")
    except MeasurementError:
        return
    assert not math.isnan(number)
    assert isinstance(value, bool | int | float | str)
    json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="$.[]019ab_-\n ", max_size=12))
def test_every_path_the_annotation_accepts_can_be_read(text):
    from webhook.spec import Problems, WebProvider, parse_analysis

    raw = {"metrics": [{"name": "m", "min": 0,
                        "provider": {"web": {"url": "http://127.0.0.1/x", "jsonPath": text}}}]}
    problems = Problems()
    analysis = parse_analysis(raw, "canarist.io/analysis", problems)
    if analysis is None:
        return
    provider = analysis.metrics[0].provider
    assert isinstance(provider, WebProvider)
    parse_path(provider.json_path)  # never raises for an accepted path
