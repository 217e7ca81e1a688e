"""The shared readers of spec's parsers: every problem with its path, nothing raised."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.spec.problems import (
    Problems,
    exactly_one,
    json_type,
    keyed,
    keyed_items,
    required,
    type_name,
)


@pytest.mark.parametrize(
    ("value", "json_name", "yaml_name"),
    [
        (None, "null", "null"),
        (True, "boolean", "boolean"),
        (3, "number", "number"),
        (2.5, "number", "number"),
        ("x", "string", "string"),
        ([1], "array", "list"),
        ({"a": 1}, "object", "mapping"),
        (b"raw", "bytes", "bytes"),
    ],
)
def test_type_names_in_json_and_yaml_words(value: Any, json_name: str, yaml_name: str) -> None:
    assert json_type(value) == json_name
    assert type_name(value) == yaml_name


@pytest.mark.parametrize(
    ("raw", "result", "problems"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1, "ab": 2}, {"a": 1, "ab": 2},
         ["p.ab: unknown key \"ab\" (did you mean \"b\"?); allowed: a, b"]),
        ([1], None, ["p: must be a mapping, got list [1]"]),
        ({1: 2}, None, ['p: must be a mapping, got mapping {"1": 2}']),
    ],
)
def test_keyed_reports_unknown_keys_and_keeps_the_mapping(
    raw: Any, result: Any, problems: list[str]
) -> None:
    found = Problems()
    assert keyed(raw, ("a", "b"), "p", found) == result
    assert [str(p) for p in found] == problems


@pytest.mark.parametrize(
    ("raw", "items", "problems"),
    [
        ([], [], []),
        ([{"a": 1}, 3, {"c": 2}], [("p[0]", {"a": 1}), ("p[2]", {"c": 2})],
         ["p[1]: must be a mapping, got number 3",
          "p[2].c: unknown key \"c\"; allowed: a, b"]),
        ("no", [], ['p: must be a list, got string "no"']),
    ],
)
def test_keyed_items_yields_the_mappings_of_a_list_with_their_paths(
    raw: Any, items: list[tuple[str, dict[str, int]]], problems: list[str]
) -> None:
    found = Problems()
    assert list(keyed_items(raw, ("a", "b"), "p", found)) == items
    assert [str(p) for p in found] == problems


@pytest.mark.parametrize(
    ("m", "ok", "problems"),
    [
        ({"a": 1, "b": 2}, True, []),
        ({"a": 1}, False, ["p.b: is required"]),
        ({}, False, ["p.a: is required", "p.b: is required"]),
    ],
)
def test_required_names_every_missing_key(m: dict[str, int], ok: bool, problems: list[str]) -> None:
    found = Problems()
    assert required(m, ("a", "b"), "p", found) is ok
    assert [str(p) for p in found] == problems


@pytest.mark.parametrize(
    ("m", "key", "problems"),
    [
        ({"a": 1, "z": 2}, "a", []),
        ({}, None, ["p: must set exactly one of a, b, c; got none"]),
        ({"c": 1, "a": 2}, None, ["p: must set exactly one of a, b, c; got a and c"]),
    ],
)
def test_exactly_one_names_what_was_set(
    m: dict[str, int], key: str | None, problems: list[str]
) -> None:
    found = Problems()
    assert exactly_one(m, ("a", "b", "c"), "p", found) == key
    assert [str(p) for p in found] == problems
