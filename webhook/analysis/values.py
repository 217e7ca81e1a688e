"""From provider answers to one number: number coercion and the restricted JSON path.

Pure functions; each raises ``MeasurementError`` with a message saying what was found where.
"""

from __future__ import annotations

import math
import re
from typing import Any

from webhook.errors import MeasurementError

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+)\]")
# Numbers as JSON and Prometheus write them, ASCII only: Python's float() would also take
# "1_000" and Unicode digits ("٣٠" is 30 to it).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INFINITY = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = re.compile(r"[+-]?nan", re.IGNORECASE)


def to_number(raw: Any, where: str, *, finite: bool = False) -> float:
    """A float from a JSON value.

    Numbers as they are; strings that are numbers (``"0.98"``, ``"+Inf"``); booleans (and
    the strings ``"true"``/``"false"``) as 1/0. NaN, null, objects and lists are errors, and
    infinities too when ``finite`` (a count or a window, where +Inf makes a ratio look fine).
    """
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf if raw > 0 else -math.inf
    elif isinstance(raw, str):
        value = _from_text(raw, where)
    else:
        raise MeasurementError(f"{where} is {_kind(raw)}, not a number")
    if math.isnan(value):
        raise MeasurementError(f"{where} is NaN (no data for the query?)")
    if finite and math.isinf(value):
        raise MeasurementError(f"{where} is {value:+}, not a finite number")
    return value


def _from_text(text: str, where: str) -> float:
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return 1.0 if stripped.lower() == "true" else 0.0
    if len(stripped) <= 64 and _NUMBER.fullmatch(stripped):
        try:
            return float(stripped)
        except OverflowError:  # pragma: no cover - float() gives inf for huge exponents
            return math.inf
    if _INFINITY.fullmatch(stripped):
        return -math.inf if stripped.startswith("-") else math.inf
    if _NAN.fullmatch(stripped):
        return math.nan
    shown = text if len(text) <= 40 else text[:39] + "…"
    raise MeasurementError(f"{where} is the string {shown!r}, not a number")


def parse_path(path: str) -> list[str | int]:
    """``$.data.items[0].value`` -> ``["data", "items", 0, "value"]``.

    One trailing newline is ignored, as the annotation's validator (a ``$``-anchored regex)
    lets it through (``jsonPath: |`` in YAML).
    """
    path = path.removesuffix("\n")
    if not path.startswith("$"):
        raise MeasurementError(f"jsonPath {path!r} must start with $")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise MeasurementError(f"jsonPath {path!r}: cannot read {path[pos:]!r}")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return steps


def select(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; a missing key or index names the part that failed."""
    node = document
    walked = "$"
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(node, list):
                raise MeasurementError(f"{walked} is {_kind(node)}, not a list (jsonPath {path})")
            if step >= len(node):
                raise MeasurementError(
                    f"{walked} has {len(node)} item{'s' if len(node) != 1 else ''}, "
                    f"no [{step}] (jsonPath {path})"
                )
            node = node[step]
            walked += f"[{step}]"
        else:
            if not isinstance(node, dict):
                raise MeasurementError(
                    f"{walked} is {_kind(node)}, not an object (jsonPath {path})"
                )
            if step not in node:
                raise MeasurementError(f"{walked} has no key {step!r} (jsonPath {path})")
            node = node[step]
            walked += f".{step}"
    return node


def _kind(node: Any) -> str:
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "a boolean"
    if isinstance(node, int | float):
        return "a number"
    if isinstance(node, str):
        return "a string"
    return "a list" if isinstance(node, list) else "an object"
