"""RFC 6902 JSON Patch operations for the admission response.

The API server applies the patch to the object it sent; an ``add`` under a parent map that does
not exist fails the whole request with a 500, whatever the failure policy. So every helper here
looks at the object first and adds the whole missing map (``labels``, ``annotations``,
``metadata``) instead of a key inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

Op = dict[str, Any]


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


@lru_cache(maxsize=256)  # the webhook writes a handful of fixed paths
def pointer(*tokens: str) -> str:
    return "".join("/" + escape(t) for t in tokens)


def _is_map(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def set_nested(
    ops: list[Op],
    root: Mapping[str, Any],
    path: tuple[str, ...],
    key: str,
    value: Any,
) -> None:
    """Set ``root[path[0]][path[1]]...[key] = value``, adding the first missing map whole.

    ``root`` is the map at the empty path (for us, the object itself). A level that exists but is
    ``null`` counts as missing: ``add`` replaces the null with the map.
    """
    node: Any = root
    for depth, token in enumerate(path):
        child = node.get(token) if _is_map(node) else None
        if not _is_map(child):
            value_map: Any = value
            for inner in reversed((*path[depth + 1 :], key)):
                value_map = {inner: value_map}
            ops.append({"op": "add", "path": pointer(*path[: depth + 1]), "value": value_map})
            return
        node = child
    ops.append({"op": "add", "path": pointer(*path, key), "value": value})
