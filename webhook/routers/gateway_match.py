"""Gateway API ``HTTPRouteMatch`` elements for header and mirror rules (pure).

Each managed rule copies the matches of the rule it splits and ANDs canarist's conditions into
every one of them (none: ``[{headers: ...}]``), as the Gateway API plugin of Argo Rollouts does.
Header values: exact -> ``Exact``; prefix -> ``RegularExpression`` ``<escaped prefix>.*``; regex ->
``RegularExpression``. Mirror paths: exact -> ``Exact``, prefix -> ``PathPrefix`` (Gateway API
compares whole path segments), regex -> ``RegularExpression``; methods exact only.
"""

from __future__ import annotations

import copy
from typing import Any

from webhook.errors import RouterError
from webhook.routers.matching import NEVER, intersect
from webhook.spec import HeaderMatch, MirrorMatch, StringMatch

Element = dict[str, Any]
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
_PATH_KINDS = {"Exact": "exact", "PathPrefix": "prefix", "RegularExpression": "regex"}
_PATH_TYPES = {v: k for k, v in _PATH_KINDS.items()}


def header_item(name: str, match: StringMatch, where: str) -> dict[str, str]:
    if match.kind == "exact":
        if not match.value:
            raise RouterError(
                f"{where}: Gateway API cannot match header {name!r} to an empty value"
            )
        return {"type": "Exact", "name": name, "value": match.value}
    return {"type": "RegularExpression", "name": name, "value": match.as_regex()}


def _their_header(item: Any) -> StringMatch:
    if item.get("type", "Exact") == "Exact":
        return StringMatch.of("exact", str(item.get("value", "")))
    return StringMatch.of("regex", str(item.get("value", "")))


def headers_into(element: Element, matches: tuple[HeaderMatch, ...], where: str) -> Element | None:
    """``element`` with ``matches`` ANDed into its headers; ``None`` if they cannot all hold."""
    out = copy.deepcopy(element)
    items: list[dict[str, Any]] = list(out.get("headers") or [])
    for match in matches:
        at = next((i for i, h in enumerate(items) if str(h.get("name")).lower() == match.key), None)
        theirs = _their_header(items[at]) if at is not None else None
        both = intersect(match.value, theirs, where)
        if both is NEVER:
            return None
        item = header_item(match.name, both or match.value, where)
        if at is None:
            items.append(item)
        else:
            items[at] = item
    if items:
        out["headers"] = items
    return out


def _their_path(element: Element) -> StringMatch | None:
    path = element.get("path")
    if not isinstance(path, dict):
        return None
    kind = _PATH_KINDS.get(str(path.get("type", "PathPrefix")), "prefix")
    value = str(path.get("value", "/"))
    if kind == "prefix" and value == "/":
        return None
    return StringMatch.of(kind, value)  # type: ignore[arg-type]


def mirror_into(element: Element, match: MirrorMatch, where: str) -> Element | None:
    """``element`` AND one mirror match; ``None`` if they cannot both hold."""
    out = headers_into(element, match.headers, where)
    if out is None:
        return None
    if match.method is not None:
        method = match.method.value.upper()
        if match.method.kind != "exact" or method not in METHODS:
            raise RouterError(
                f"{where}: Gateway API matches one HTTP method exactly ({', '.join(METHODS)}), "
                f"got {match.method.kind} {match.method.value!r}"
            )
        if out.get("method") not in (None, method):
            return None
        out["method"] = method
    if match.path is not None:
        if match.path.kind != "regex" and not match.path.value.startswith("/"):
            raise RouterError(
                f"{where}: a path match must start with '/', got {match.path.value!r}"
            )
        both = intersect(match.path, _their_path(element), where)
        if both is NEVER:
            return None
        if both is not None:
            out["path"] = {"type": _PATH_TYPES[both.kind], "value": both.value}
    return out


def header_matches(source: Any, matches: tuple[HeaderMatch, ...], where: str) -> list[Element]:
    theirs = source if isinstance(source, list) and source else [{}]
    out = [headers_into(e, matches, where) for e in theirs]
    return _unique(out)


def mirror_matches(source: Any, matches: tuple[MirrorMatch, ...], where: str) -> list[Element]:
    theirs = source if isinstance(source, list) and source else [{}]
    return _unique([mirror_into(e, m, where) for e in theirs for m in matches])


def _unique(elements: list[Element | None]) -> list[Element]:
    out: list[Element] = []
    for e in elements:
        if e is not None and e not in out:
            out.append(e)
    return out
