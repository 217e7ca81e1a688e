"""Istio ``HTTPMatchRequest`` elements for header and mirror routes (pure).

A managed route sits right above the user's route it splits and must only catch requests that
route would have caught: its match elements are the user's route's elements, each ANDed with
canarist's (header values, method, path as ``uri``). Header names are lowercased, as Istio
requires. Elements whose conditions cannot both hold are dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from webhook.errors import RouterError
from webhook.routers.matching import NEVER, intersect
from webhook.spec import HeaderMatch, MirrorMatch, StringMatch
from webhook.spec.matches import MATCH_KINDS

Element = dict[str, Any]


def to_string_match(raw: Any) -> StringMatch | None:
    """An Istio ``StringMatch`` as ours; ``None`` for ``{}`` (presence) or absent."""
    if not isinstance(raw, dict):
        return None
    for kind in MATCH_KINDS:
        if kind in raw:
            return StringMatch.of(kind, str(raw[kind]))
    return None


def header_element(matches: tuple[HeaderMatch, ...], where: str) -> Element:
    """All header matches of one route (AND) as one match element."""
    headers: dict[str, StringMatch] = {}
    for match in matches:
        both = intersect(match.value, headers.get(match.key), where)
        if not isinstance(both, StringMatch):
            raise RouterError(f"{where}: the matches on header {match.name!r} can never all hold")
        headers[match.key] = both
    return {"headers": {k: v.to_dict() for k, v in headers.items()}}


def mirror_element(match: MirrorMatch, where: str) -> Element:
    out: Element = header_element(match.headers, where) if match.headers else {}
    if match.method is not None:
        out["method"] = match.method.to_dict()
    if match.path is not None:
        out["uri"] = match.path.to_dict()
    return out


def merge(theirs: Element, ours: Element, where: str) -> Element | None:
    """``theirs AND ours`` as one element; ``None`` when both can never hold."""
    out = copy.deepcopy(theirs)
    for field in ("uri", "method"):
        if field not in ours:
            continue
        both = intersect(to_string_match(ours[field]), to_string_match(theirs.get(field)), where)
        if both is NEVER:
            return None
        if both is not None:
            out[field] = both.to_dict()
    if ours.get("headers"):
        headers = dict(out.get("headers") or {})
        lowered = {k.lower(): k for k in headers}
        for key, value in ours["headers"].items():
            existing = lowered.get(key)
            current = to_string_match(headers.get(existing)) if existing else None
            both = intersect(to_string_match(value), current, where)
            if both is NEVER:
                return None
            if existing:
                del headers[existing]
            headers[key] = both.to_dict() if both is not None else value
        out["headers"] = headers
    return out


def combine(route_matches: Any, ours: list[Element], where: str) -> list[Element]:
    """Every pair of the user route's elements (none: it catches everything) and ours, ANDed."""
    theirs = route_matches if isinstance(route_matches, list) and route_matches else [{}]
    out: list[Element] = []
    for element in theirs:
        for mine in ours:
            merged = merge(element if isinstance(element, dict) else {}, mine, where)
            if merged is not None and merged not in out:
                out.append(merged)
    return out
