"""Collecting validation problems with their field paths, and small typed readers.

Parsers in ``spec`` never stop at the first problem: they record each one with the path of the
offending field (``canarist.io/steps[2].setWeight``) and keep going, so a user sees every mistake
in one round trip. The readers below check a raw YAML/JSON value's type and record a problem
instead of raising.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from webhook.errors import InvalidInput, Problem, SpecError

K = TypeVar("K", bound=str)


MAX_PROBLEMS = 50  # shown in one message; the others are counted


class Problems:
    """An ordered collection of problems found while parsing one input.

    The first ``MAX_PROBLEMS`` are kept; later ones are only counted (a message listing
    thousands of mistakes helps nobody and costs memory), and ``full`` tells a parser that it
    may skip composing messages nobody will read.
    """

    def __init__(self) -> None:
        self._items: list[Problem] = []
        self._more = 0

    def add(self, path: str, message: str) -> None:
        if len(self._items) < MAX_PROBLEMS:
            self._items.append(Problem(path, message))
        else:
            self._more += 1

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem.path, problem.message)

    @property
    def full(self) -> bool:
        return len(self._items) >= MAX_PROBLEMS

    @property
    def items(self) -> tuple[Problem, ...]:
        if self._more:
            more = Problem("", f"... and {self._more} more problems")
            return (*self._items, more)
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items) + self._more

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.items)

    def raise_if_any(self, error: type[InvalidInput] = SpecError, subject: str = "") -> None:
        if self._items:
            raise error(self.items, subject=subject)


MAX_KEY = 64  # characters of a key in a path; longer keys are cut


def at(path: str, key: str) -> str:
    """The path of ``key`` inside the mapping at ``path``."""
    if len(key) > MAX_KEY:
        key = key[: MAX_KEY - 3] + "..."
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    """The path of item ``i`` of the list at ``path``."""
    return f"{path}[{i}]"


def show(value: Any, limit: int = 60) -> str:
    """A short, unambiguous rendering of a user's value for an error message: JSON, cut to
    ``limit`` characters. Only the part that is shown is ever looked at, so the cost does not
    depend on the size of the value (a huge string, a list of a million items, aliases)."""
    out: list[str] = []
    _render(value, out, limit + 1)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(value: Any, out: list[str], budget: int) -> int:
    """Append at most about ``budget`` characters of ``value``'s JSON; return what is left."""
    if budget <= 0:
        return 0
    if isinstance(value, str):
        text = json.dumps(value[:budget], ensure_ascii=False)
        if len(value) > budget:
            text = text[:-1]  # no closing quote: the string goes on
    elif isinstance(value, Mapping):
        out.append("{")
        budget -= 1
        for i, (key, item) in enumerate(value.items()):
            if budget <= 0:
                return 0
            if i:
                out.append(", ")
                budget -= 2
            budget = _render(key if isinstance(key, str) else str(key), out, budget)
            out.append(": ")
            budget = _render(item, out, budget - 2)
        text = "}"
    elif isinstance(value, list | tuple | set | frozenset):
        out.append("[")
        budget -= 1
        for i, item in enumerate(value):
            if budget <= 0:
                return 0
            if i:
                out.append(", ")
                budget -= 2
            budget = _render(item, out, budget)
        text = "]"
    elif value is None or isinstance(value, bool | int | float):
        text = _scalar(value)
    elif isinstance(value, bytes | bytearray):
        text = repr(bytes(value[:budget]))
    else:
        text = json.dumps(str(value)[:budget], ensure_ascii=False)
    out.append(text[:budget])
    return budget - len(text)


def _scalar(value: bool | int | float | None) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"(an integer of {value.bit_length()} bits)"  # str() of it is quadratic
    return json.dumps(value)


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
    if len(word) > 64:  # difflib's cost grows with the word; no option is that long
        return None
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
            message = "unknown key" if problems.full else unknown_key_message(key, allowed_set)
            problems.add(at(path, key), message)


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


INT32_MAX = 2**31 - 1  # Kubernetes' int32 fields; the default upper bound of ``integer``


def integer(
    raw: Any,
    path: str,
    problems: Problems,
    *,
    low: int | None = None,
    high: int | None = INT32_MAX,
) -> int | None:
    """An integer within ``low``..``high`` (YAML's ``10.0`` counts; ``.nan``, ``.inf`` and
    strings do not)."""
    value: int
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        problems.add(path, f"must be an integer{_range(low, high)}, got {show(raw)}")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        problems.add(path, f"must be{_range(low, high)}, got {show(value)}")
        return None
    return value


def number(raw: Any, path: str, problems: Problems) -> float | None:
    """A finite number (``.nan`` and ``.inf`` are refused: no threshold holds against them)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.add(path, f"must be a number, got {show(raw)}")
        return None
    try:
        value = float(raw)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        problems.add(path, f"must be a finite number, got {show(raw)}")
        return None
    return value


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
