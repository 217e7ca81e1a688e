"""Label selectors of cluster policies (``metav1.LabelSelector``): parsed, matched, compared.

A selector is a set of requirements, all of which must hold (``matchLabels`` entries are ``In``
requirements with one value, as apimachinery converts them); the empty selector matches
everything. Comparing two selectors is what ``canarist validate`` needs to find shadowed
policies: ``covers`` (every object the other matches, this one matches) and ``disjoint`` (no
object matches both), each a sufficient test, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.spec.labels import label_key_problem, label_value_problem
from webhook.spec.problems import (
    Problems,
    at,
    index,
    keyed,
    keyed_items,
    mapping,
    sequence,
    show,
    string,
)

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
MAX_REQUIREMENTS = 64
MAX_VALUES = 256


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of OPERATORS
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator == "In":
            return value is not None and value in self.values
        if self.operator == "NotIn":
            return value is None or value not in self.values
        if self.operator == "Exists":
            return value is not None
        return value is None

    def implies(self, other: Requirement) -> bool:
        """Every label set meeting this requirement meets ``other`` (same key only)."""
        if self.key != other.key:
            return False
        if self == other:
            return True
        op, o = self.operator, other.operator
        if op == "In":
            return (
                (o == "In" and self.values <= other.values)
                or (o == "NotIn" and not self.values & other.values)
                or o == "Exists"
            )
        if op == "DoesNotExist":
            return o in ("NotIn", "DoesNotExist")
        return op == "NotIn" and o == "NotIn" and other.values <= self.values

    def excludes(self, other: Requirement) -> bool:
        """No label set meets both (same key only)."""
        if self.key != other.key:
            return False
        pair = {self.operator, other.operator}
        if pair in ({"Exists", "DoesNotExist"}, {"In", "DoesNotExist"}):
            return True
        if pair == {"In"}:
            return not self.values & other.values
        if pair == {"In", "NotIn"}:
            inn, notin = (self, other) if self.operator == "In" else (other, self)
            return inn.values <= notin.values
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.operator in ("In", "NotIn"):
            out["values"] = sorted(self.values)
        return out


@dataclass(frozen=True)
class LabelSelector:
    """``match_labels`` and ``expressions`` as written (for rendering), both as requirements."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    @property
    def requirements(self) -> frozenset[Requirement]:
        pairs = (Requirement(k, "In", frozenset({v})) for k, v in self.match_labels)
        return frozenset((*pairs, *self.expressions))

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(r.matches(labels) for r in self.expressions)

    def covers(self, other: LabelSelector | None) -> bool:
        """Every label set ``other`` matches, this selector matches (``None`` matches all)."""
        mine = self.requirements
        if not mine:
            return True
        theirs = other.requirements if other is not None else frozenset()
        return all(any(t.implies(m) for t in theirs) for m in mine)

    def disjoint(self, other: LabelSelector | None) -> bool:
        """No label set matches both."""
        if other is None:
            return False
        return any(a.excludes(b) for a in self.requirements for b in other.requirements)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.match_labels:
            out["matchLabels"] = dict(self.match_labels)
        if self.expressions:
            out["matchExpressions"] = [r.to_dict() for r in self.expressions]
        return out

    def describe(self) -> str:
        """The selector in kubectl's query form: ``tier=web,env in (a,b),!legacy``."""
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for r in self.expressions:
            values = ",".join(sorted(r.values))
            parts.append(
                {
                    "In": f"{r.key} in ({values})",
                    "NotIn": f"{r.key} notin ({values})",
                    "Exists": r.key,
                    "DoesNotExist": f"!{r.key}",
                }[r.operator]
            )
        return ",".join(parts) or "(everything)"


def selects(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    return selector is None or selector.matches(labels)


def covers(outer: LabelSelector | None, inner: LabelSelector | None) -> bool:
    """Every label set ``inner`` matches, ``outer`` matches (``None`` matches everything)."""
    return outer is None or outer.covers(inner)


def disjoint(a: LabelSelector | None, b: LabelSelector | None) -> bool:
    return a is not None and a.disjoint(b)


# --- parsing -----------------------------------------------------------------------------


def parse_selector(raw: Any, path: str, problems: Problems) -> LabelSelector | None:
    """A ``metav1.LabelSelector`` mapping; ``None`` with problems recorded when invalid."""
    m = keyed(raw, ("matchLabels", "matchExpressions"), path, problems)
    if m is None:
        return None
    before = len(problems)
    pairs = _match_labels(m.get("matchLabels"), at(path, "matchLabels"), problems)
    expressions = _expressions(m.get("matchExpressions"), at(path, "matchExpressions"), problems)
    if len(pairs) + len(expressions) > MAX_REQUIREMENTS:
        problems.add(path, f"has more than {MAX_REQUIREMENTS} requirements")
    if len(problems) > before:
        return None
    return LabelSelector(tuple(sorted(pairs)), tuple(expressions))


def _match_labels(raw: Any, path: str, problems: Problems) -> list[tuple[str, str]]:
    if raw is None:
        return []
    m = mapping(raw, path, problems)
    if m is None:
        return []
    pairs = []
    for key, value in m.items():
        where = at(path, key)
        _key(key, where, problems)
        text = string(value, where, problems, nonempty=False)
        if text is not None:
            problem = label_value_problem(text)
            if problem:
                problems.add(where, f"invalid label value {show(text)}: {problem}")
            else:
                pairs.append((key, text))
    return pairs


def _expressions(raw: Any, path: str, problems: Problems) -> list[Requirement]:
    if raw is None:
        return []
    out = []
    for ipath, item in keyed_items(raw, ("key", "operator", "values"), path, problems):
        key = string(item.get("key"), at(ipath, "key"), problems)
        if key is not None:
            _key(key, at(ipath, "key"), problems)
        op = item.get("operator")
        if op not in OPERATORS:
            problems.add(
                at(ipath, "operator"), f"must be one of {', '.join(OPERATORS)}, got {show(op)}"
            )
            continue
        values = _values(item.get("values"), at(ipath, "values"), op, problems)
        if key is not None and values is not None:
            out.append(Requirement(key, op, values))
    return out


def _values(raw: Any, path: str, op: str, problems: Problems) -> frozenset[str] | None:
    if op in ("Exists", "DoesNotExist"):
        if raw not in (None, []):
            problems.add(path, f"must be empty when the operator is {op}")
            return None
        return frozenset()
    items = sequence(raw, path, problems) if raw is not None else None
    if not items:
        if raw is None or items == []:
            problems.add(path, f"must list at least one value when the operator is {op}")
        return None
    if len(items) > MAX_VALUES:
        problems.add(path, f"has {len(items)} values, more than {MAX_VALUES}")
        return None
    values = set()
    ok = True
    for i, value in enumerate(items):
        text = string(value, index(path, i), problems, nonempty=False)
        problem = label_value_problem(text) if text is not None else "not a string"
        if text is None:
            ok = False
        elif problem:
            problems.add(index(path, i), f"invalid label value {show(text)}: {problem}")
            ok = False
        else:
            values.add(text)
    return frozenset(values) if ok else None


def _key(key: str, path: str, problems: Problems) -> None:
    problem = label_key_problem(key)
    if problem:
        problems.add(path, f"invalid label key {show(key)}: {problem}")
