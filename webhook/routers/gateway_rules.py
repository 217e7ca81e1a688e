"""Finding canarist's own rules in an HTTPRoute, whatever the installed CRD keeps (pure).

Rule names (``spec.rules[].name``) exist only from Gateway API v1.4 (standard channel), mirror
percentages (``requestMirror.percent``) from v1.3: on older CRDs the API server prunes them with
an ``unknown field`` warning. So a managed rule is not found by its name but by its **shape**: the
record in ``canarist.io/managed-by`` (metadata, which every CRD keeps) holds a digest of each rule
written, of its content as the server stores it — the API server's defaults filled in, and
without the fields an older CRD drops (the name, the mirror percentage). A rule whose name is
recorded, or whose digest is, is canarist's; nothing else is ever changed or removed.

``route_features`` reads the installed CRD's schema (OpenAPI) so that canarist writes a name or a
percentage only where the CRD has the field; without a schema it assumes the newest CRD, and a
managed rule found by its digest but without the name written shows names are dropped.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from webhook.routers.objects import Record

Rule = dict[str, Any]
PATH_DEFAULT = {"type": "PathPrefix", "value": "/"}
# Fields an older HTTPRoute CRD does not have: never part of a rule's digest.
DROPPABLE_MIRROR = ("percent", "fraction")


@dataclass(frozen=True)
class RouteFeatures:
    """What the installed HTTPRoute CRD keeps of what canarist may write."""

    rule_names: bool = True
    mirror_percent: bool = True
    known: bool = False  # read from the CRD's schema (else assumed)


def _props(schema: Any, *path: str) -> dict[str, Any] | None:
    """The ``properties`` at ``path`` (``items`` steps through arrays); None when absent."""
    node = schema
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get("items") if key == "[]" else (node.get("properties") or {}).get(key)
    props = node.get("properties") if isinstance(node, dict) else None
    return props if isinstance(props, dict) else None


def route_features(schema: dict[str, Any] | None) -> RouteFeatures:
    """From the HTTPRoute schema the server publishes; ``None`` (unknown): the newest."""
    rule = _props(schema, "spec", "rules", "[]")
    if schema is None or rule is None:
        return RouteFeatures()
    mirror = _props(schema, "spec", "rules", "[]", "filters", "[]", "requestMirror") or {}
    return RouteFeatures("name" in rule, "percent" in mirror, known=True)


def _ref(ref: Any) -> Any:
    if isinstance(ref, dict):
        ref = {"group": "", "kind": "Service", **ref}
    return ref


def normalized(rule: Rule) -> Rule:
    """The rule as the API server stores it (its defaults filled in), without the fields an
    older CRD drops."""
    out = copy.deepcopy(rule)
    out.pop("name", None)
    matches = out.get("matches") or [{"path": dict(PATH_DEFAULT)}]
    for match in matches:
        if isinstance(match, dict):
            path = match.setdefault("path", dict(PATH_DEFAULT))
            if isinstance(path, dict):
                path.setdefault("type", "PathPrefix")
                path.setdefault("value", "/")
            for item in [*(match.get("headers") or []), *(match.get("queryParams") or [])]:
                if isinstance(item, dict):
                    item.setdefault("type", "Exact")
    out["matches"] = matches
    out["backendRefs"] = [
        {"weight": 1, **_ref(ref)} if isinstance(ref, dict) else ref
        for ref in out.get("backendRefs") or []
    ]
    for f in out.get("filters") or []:
        mirror = f.get("requestMirror") if isinstance(f, dict) else None
        if isinstance(mirror, dict):
            for key in DROPPABLE_MIRROR:
                mirror.pop(key, None)
            mirror["backendRef"] = _ref(mirror.get("backendRef"))
    return out


def digest(rule: Rule) -> str:
    text = json.dumps(normalized(rule), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_managed(rules: list[Rule], record: Record) -> dict[int, str]:
    """Index -> name (``beta``, ``beta-1``...) of the rules ``record`` says canarist wrote: by
    the rule's name where it kept one, else by its digest."""
    written = record.written
    out: dict[int, str] = {}
    for i, rule in enumerate(rules):
        name = rule.get("name")
        if isinstance(name, str) and name in written:
            out[i] = name
    free = {n: d for n, d in record.shapes if n not in out.values()}
    for i, rule in enumerate(rules):
        if i in out or rule.get("name"):
            continue
        shape = digest(rule)
        name = next((n for n, d in free.items() if d == shape), None)
        if name is not None:
            out[i] = name
            del free[name]
    return out


def names_dropped(rules: list[Rule], found: dict[int, str]) -> bool:
    """A rule found by its digest lacks the name written: the CRD has no rule names."""
    return any(not rules[i].get("name") for i in found)
