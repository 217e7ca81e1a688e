"""Argo's ``successCondition`` / ``failureCondition`` as canarist's ``min`` / ``max``.

Only a single comparison of the measured value with a number converts: ``result[0] >= 0.95``,
``result <= 0.01``, ``0.9 < result``, ``asFloat(result) > 1``; for the web provider also a field
of the answer (``result.major == '1'`` reads ``$.major``). Anything else (``&&``, functions,
string comparisons, ``len(result)``) is reported with the reason; it is never evaluated.
canarist's bounds are inclusive, so a strict comparison moves its boundary value to the passing
side, and a value meeting neither condition (Argo: Inconclusive) fails; both are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 500
_OPERATORS = re.compile(r"[<>!=]=|[<>]")
_FIELD = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]{1,6}\])"
_OPERAND = re.compile(rf"result({_FIELD}*)")
_WRAPPED = re.compile(rf"(asFloat|asInt)\(\s*result({_FIELD}*)\s*\)")
_NUMBER = re.compile(r"-?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][-+]?[0-9]{1,3})?")
_QUOTED = re.compile(r"""(['"])(.*)\1""")
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Comparison:
    """``result<field> <op> <value>``, with the measured value on the left."""

    field: str  # "" for result itself, else a JSON path suffix such as ".major" or "[0]"
    op: str
    value: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float | None
    field: str
    notes: tuple[str, ...] = ()


def _literal(text: str) -> tuple[float, str] | None:
    """A number, a quoted number or a boolean, with a note when it is not a plain number."""
    if _NUMBER.fullmatch(text):
        return float(text), ""
    if text in ("true", "false"):
        return (1.0 if text == "true" else 0.0), f"{text} is compared as the number " + (
            "1" if text == "true" else "0"
        )
    quoted = _QUOTED.fullmatch(text)
    if quoted and _NUMBER.fullmatch(quoted.group(2)):
        return float(quoted.group(2)), f"the string {text} is compared as a number"
    return None


def _operand(text: str) -> tuple[str, str] | None:
    plain = _OPERAND.fullmatch(text)
    if plain:
        return plain.group(1), ""
    wrapped = _WRAPPED.fullmatch(text)
    if wrapped is None:
        return None
    note = "asInt() is not applied: the value is compared as a decimal number"
    return wrapped.group(2), note if wrapped.group(1) == "asInt" else ""


def parse_condition(text: str) -> Comparison | str:
    """The comparison, or why it is not one canarist can express."""
    text = text.strip()
    if len(text) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    ops = _OPERATORS.findall(text)
    if len(ops) != 1:
        return "not a single comparison of result with a number"
    left, _, right = (part.strip() for part in text.partition(ops[0]))
    op = ops[0]
    operand, literal = _operand(left), _literal(right)
    if operand is None or literal is None:
        operand, literal, op = _operand(right), _literal(left), _FLIP[op]
    if operand is None or literal is None:
        return "not a single comparison of result with a number"
    field, wrap_note = operand
    value, value_note = literal
    notes = tuple(n for n in (wrap_note, value_note) if n)
    return Comparison(field, op, value, notes)


# What passes, as (low, high, exact): for a success condition the values that meet it, for a
# failure condition the values that do not. ``None``: no single range.
_SUCCESS = {">=": (True, None, True), ">": (True, None, False), "<=": (None, True, True),
            "<": (None, True, False), "==": (True, True, True)}
_FAILURE = {">": (None, True, True), ">=": (None, True, False), "<": (True, None, True),
            "<=": (True, None, False), "!=": (True, True, True)}


def _range(c: Comparison, table: dict[str, tuple[bool | None, bool | None, bool]], what: str,
           ) -> tuple[float | None, float | None, tuple[str, ...]] | str:
    entry = table.get(c.op)
    if entry is None:
        return f"{what} with {c.op} is not a range of values"
    low, high, exact = entry
    notes = c.notes
    if not exact:
        notes += (f"the value {c.value:g} itself now passes (canarist's min and max are "
                  f"inclusive; Argo's {what} {c.op} {c.value:g} did not pass it)",)
    return (c.value if low else None), (c.value if high else None), notes


def bounds(success: str | None, failure: str | None) -> Bounds | str:
    """``min``/``max`` for the two conditions (either may be absent), or why not."""
    parts: list[tuple[float | None, float | None, tuple[str, ...]]] = []
    fields: set[str] = set()
    for text, table, what in ((success, _SUCCESS, "successCondition"),
                              (failure, _FAILURE, "failureCondition")):
        if text is None:
            continue
        c = parse_condition(text)
        if isinstance(c, str):
            return f"{what} {text.strip()!r}: {c}"
        r = _range(c, table, what)
        if isinstance(r, str):
            return r
        parts.append(r)
        fields.add(c.field)
    if not parts:
        return ("no successCondition or failureCondition: Argo counts every measurement as "
                "Successful, canarist needs a threshold")
    if len(fields) != 1:
        return "the two conditions read different fields of the result"
    lows = [p[0] for p in parts if p[0] is not None]
    highs = [p[1] for p in parts if p[1] is not None]
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    if low is not None and high is not None and low > high:
        return "no value passes both conditions"
    notes = tuple(n for p in parts for n in p[2])
    if len(parts) == 2 and parts[0][:2] != parts[1][:2]:
        notes += ("a value that meets neither condition was Inconclusive in Argo (the rollout "
                  "paused); canarist fails it",)
    return Bounds(low, high, fields.pop(), notes)
