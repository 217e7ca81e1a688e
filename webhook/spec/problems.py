"""Collecting validation problems with their field paths, and small typed readers.

Parsers in ``spec`` never stop at the first problem: they record each one with the path of the
offending field (``canarist.io/steps[2].setWeight``) and keep going, so a user sees every mistake
in one round trip. The readers below check a raw YAML/JSON value's type and record a problem
instead of raising.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from webhook.errors import InvalidInput, Problem, SpecError

K = TypeVar("K", bound=str)


class Problems:
    """An ordered collection of problems found while parsing one input."""

    def __init__(self) -> None:
        self._items: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self._items.append(Problem(path, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        self._items.extend(problems)

    @property
    def items(self) -> tuple[Problem, ...]:
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def raise_if_any(self, error: type[InvalidInput] = SpecError, subject: str = "") -> None:
        if self._items:
            raise error(self._items, subject=subject)


def at(path: str, key: str) -> str:
    """The path of ``key`` inside the mapping at ``path``."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    """The path of item ``i`` of the list at ``path``."""
    return f"{path}[{i}]"


def show(value: Any, limit: int = 60) -> str:
    """A short, unambiguous rendering of a user's value for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):  # pragma: no cover - default=str handles everything
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    """JSON's name for the type of a decoded value: null, boolean, number, string, array, object
    (anything else, e.g. a YAML timestamp, by its Python type name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


_YAML_NAMES = {"array": "list", "object": "mapping"}


def type_name(value: Any) -> str:
    """YAML's name for the type of a value (list, mapping), as annotation errors say it."""
    name = json_type(value)
    return _YAML_NAMES.get(name, name)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a misspelt ``word``, if one is close enough."""
    options = list(choices)
    for option in options:
        if option.lower() == word.lower():
            return option
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    allowed = sorted(allowed)
    hint = suggest(key, allowed)
    msg = f"unknown key {show(key)}"
    if hint:
        msg += f" (did you mean {show(hint)}?)"
    return msg + f"; allowed: {', '.join(allowed)}"


def mapping(raw: Any, path: str, problems: Problems) -> Mapping[str, Any] | None:
    if isinstance(raw, Mapping) and all(isinstance(k, str) for k in raw):
        return raw
    problems.add(path, f"must be a mapping, got {_shown(raw)}")
    return None


def check_keys(
    raw: Mapping[str, Any], allowed: Iterable[str], path: str, problems: Problems
) -> None:
    allowed_set = set(allowed)
    for key in raw:
        if key not in allowed_set:
            problems.add(at(path, key), unknown_key_message(key, allowed_set))


def keyed(
    raw: Any, allowed: Iterable[str], path: str, problems: Problems
) -> Mapping[str, Any] | None:
    """``raw`` as a mapping with its unknown keys reported (``None`` if it is not a mapping)."""
    m = mapping(raw, path, problems)
    if m is not None:
        check_keys(m, allowed, path, problems)
    return m


def keyed_items(
    raw: Any, allowed: Iterable[str], path: str, problems: Problems
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The items of the list ``raw`` that are mappings, each with its path and its unknown keys
    reported; an item that is not a mapping is reported and skipped."""
    for i, item in enumerate(sequence(raw, path, problems) or []):
        ipath = index(path, i)
        m = keyed(item, allowed, ipath, problems)
        if m is not None:
            yield ipath, m


def required(m: Mapping[str, Any], keys: Iterable[str], path: str, problems: Problems) -> bool:
    """Report each of ``keys`` missing from ``m``; true when none is."""
    missing = [key for key in keys if key not in m]
    for key in missing:
        problems.add(at(path, key), "is required")
    return not missing


def exactly_one(m: Mapping[str, Any], keys: Sequence[K], path: str, problems: Problems) -> K | None:
    """The one of ``keys`` that ``m`` sets; when it sets none or several, a problem and ``None``."""
    present = [key for key in keys if key in m]
    if len(present) != 1:
        got = "none" if not present else " and ".join(present)
        problems.add(path, f"must set exactly one of {', '.join(keys)}; got {got}")
        return None
    return present[0]


def string(raw: Any, path: str, problems: Problems, *, nonempty: bool = True) -> str | None:
    if isinstance(raw, str):
        if nonempty and not raw:
            problems.add(path, "must not be empty")
            return None
        return raw
    hint = ""
    if isinstance(raw, bool | int | float):
        hint = f' (YAML read {show(raw)} as a {type_name(raw)}; quote it: "{raw_text(raw)}")'
    problems.add(path, f"must be a string, got {type_name(raw)}{hint}")
    return None


def raw_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def integer(
    raw: Any,
    path: str,
    problems: Problems,
    *,
    low: int | None = None,
    high: int | None = None,
) -> int | None:
    value: int
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        problems.add(path, f"must be an integer{_range(low, high)}, got {show(raw)}")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        problems.add(path, f"must be{_range(low, high)}, got {value}")
        return None
    return value


def number(raw: Any, path: str, problems: Problems) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.add(path, f"must be a number, got {show(raw)}")
        return None
    return float(raw)


def boolean(raw: Any, path: str, problems: Problems) -> bool | None:
    if isinstance(raw, bool):
        return raw
    problems.add(path, f"must be true or false, got {show(raw)}")
    return None


def sequence(raw: Any, path: str, problems: Problems) -> list[Any] | None:
    if isinstance(raw, list):
        return raw
    problems.add(path, f"must be a list, got {_shown(raw)}")
    return None


def _shown(raw: Any) -> str:
    """``mapping {"a": 1}``, ``string "x"``; nothing at all as ``nothing (null)``."""
    return "nothing (null)" if raw is None else f"{type_name(raw)} {show(raw)}"


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" between {low} and {high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""
