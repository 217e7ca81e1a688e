"""Label and field selectors, as apimachinery parses and matches them.

Pure functions. ``parse_label_selector`` reads the query-string form (``app=web,tier in (a,b),
!legacy``); ``match_selector_object`` matches a ``metav1.LabelSelector`` (matchLabels plus
matchExpressions); ``parse_field_selector`` reads ``metadata.name=web,status.phase!=Running``.
Bad selectors raise ``SelectorError`` with a message naming the offending requirement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.errors import InvalidInput
from webhook.spec.labels import label_key_problem, label_value_problem


class SelectorError(InvalidInput):
    """A label or field selector that does not parse."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key, "")
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has:
            return False
        try:
            n, bound = int(value), int(self.values[0])
        except ValueError:
            return False
        return n > bound if self.op == "gt" else n < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        sym = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        return f"{self.key}{sym}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in sorted(self.requirements, key=lambda r: r.key))


EVERYTHING = Selector()


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_OP_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*?)\s*$")


def _check(key: str, values: tuple[str, ...], raw: str) -> None:
    problem = label_key_problem(key)
    if problem:
        raise SelectorError(f'unable to parse requirement: key "{key}" in "{raw}": {problem}')
    for v in values:
        vp = label_value_problem(v)
        if vp:
            raise SelectorError(f'unable to parse requirement: value "{v}" in "{raw}": {vp}')


def parse_label_selector(text: str | None) -> Selector:
    """Parse the string form of a label selector (labels.Parse)."""
    if text is None or not text.strip():
        return EVERYTHING
    reqs: list[Requirement] = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise SelectorError(f'found empty requirement in label selector "{text}"')
        m = _SET_RE.match(part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(","))
            if values == ("",):
                raise SelectorError(f'for "{m.group(2)}" operator, values set can\'t be empty')
            _check(m.group(1), values, part)
            reqs.append(Requirement(m.group(1), m.group(2), values))
            continue
        m = _OP_RE.match(part)
        if m:
            key, sym, value = m.group(1), m.group(2), m.group(3)
            op = {"==": "=", "=": "=", "!=": "!=", ">": "gt", "<": "lt"}[sym]
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise SelectorError(
                    f'unable to parse requirement: "{part}": {sym} needs an integer'
                )
            if op in ("=", "!=") and (" " in value or "(" in value):
                raise SelectorError(f'unable to parse requirement: "{part}"')
            _check(key, (value,) if op in ("=", "!=") else (), part)
            reqs.append(Requirement(key, op, (value,)))
            continue
        negate = part.startswith("!")
        key = part[1:].strip() if negate else part
        if not key or re.search(r"[\s=!<>(),]", key):
            raise SelectorError(f'unable to parse requirement: "{part}" in label selector "{text}"')
        _check(key, (), part)
        reqs.append(Requirement(key, "!" if negate else "exists"))
    return Selector(tuple(reqs))


_EXPR_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_object(sel: Mapping[str, Any] | None) -> Selector:
    """A metav1.LabelSelector as a Selector (None and {} select everything)."""
    if not sel:
        return EVERYTHING
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        op = _EXPR_OPS.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(f'"{expr.get("operator")}" is not a valid label selector operator')
        reqs.append(Requirement(str(expr.get("key", "")), op, tuple(expr.get("values") or ())))
    return Selector(tuple(reqs))


def match_selector_object(sel: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    return selector_from_object(sel).matches(labels)


# --- field selectors ---------------------------------------------------------------------------

# Fields each resource can be selected by besides metadata.name / metadata.namespace
# (the per-type GetAttrs / AddFieldLabelConversionFunc tables upstream).
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    ),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "replicasets.apps": ("status.replicas",),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for r in self.requirements:
            got = field_value(obj, r.field)
            if (got == r.value) != r.equal:
                return False
        return True

    def name(self) -> str | None:
        """The one object name this selector pins (metadata.name=x), if any: a fast path."""
        for r in self.requirements:
            if r.field == "metadata.name" and r.equal:
                return r.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if path == "source" and isinstance(cur, Mapping):
        return str(cur.get("component", ""))
    return str(cur)


def parse_field_selector(text: str | None, resource: str = "") -> FieldSelector:
    if text is None or not text.strip():
        return FieldSelector()
    allowed = ("metadata.name", "metadata.namespace", *FIELD_LABELS.get(resource, ()))
    reqs: list[FieldRequirement] = []
    for raw in text.split(","):
        part = raw.strip()
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        field = m.group(1).strip()
        if field not in allowed:
            raise SelectorError(f'field label not supported: {field}')
        reqs.append(FieldRequirement(field, m.group(2) != "!=", m.group(3).strip()))
    return FieldSelector(tuple(reqs))
