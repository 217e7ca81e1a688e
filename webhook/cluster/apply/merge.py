"""Merging an applied configuration into the live object, and removing fields from it.

Maps merge field by field; associative lists merge item by item on their keys (live order kept,
new items appended); sets take the union; atomic lists and scalars are replaced.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from webhook.cluster.apply.fields import SELF, FieldPath, ListKinds, item_key


def merged(live: Any, config: Any, kinds: ListKinds, names: tuple[str, ...] = ()) -> Any:
    """``config`` laid over ``live`` (neither is changed)."""
    if isinstance(live, Mapping) and isinstance(config, Mapping):
        out = dict(live)
        for key, value in config.items():
            out[key] = (merged(live[key], value, kinds, (*names, key)) if key in live
                        else copy.deepcopy(value))
        return out
    if isinstance(live, list) and isinstance(config, list) and names:
        kind, keys = kinds(names)
        if kind == "map":
            live_ids = [item_key(i, keys) for i in live]
            new_ids = [item_key(i, keys) for i in config]
            if all(live_ids) and all(new_ids):
                out_list = list(live)
                for ident, item in zip(new_ids, config, strict=True):
                    if ident in live_ids:
                        at = live_ids.index(ident)
                        out_list[at] = merged(live[at], item, kinds, names)
                    else:
                        out_list.append(copy.deepcopy(item))
                        live_ids.append(ident)
                return out_list
        if kind == "set":
            return list(live) + [copy.deepcopy(v) for v in config if v not in live]
    return copy.deepcopy(config)


def removed(obj: dict[str, Any], paths: Iterable[FieldPath]) -> dict[str, Any]:
    """A copy of ``obj`` without the fields at ``paths`` (deepest first; missing ones skipped)."""
    out = copy.deepcopy(obj)
    for path in sorted(paths, key=len, reverse=True):
        _remove(out, path)
    return out


def _remove(node: Any, path: FieldPath) -> None:
    *parents, last = path if path[-1] != SELF else path[:-1]
    for step in parents:
        node = _child(node, step)
        if node is None:
            return
    if last.startswith("f:") and isinstance(node, dict):
        node.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(node, list):
        ident = json.loads(last[2:])
        node[:] = [i for i in node if item_key(i, tuple(ident)) != last]
    elif last.startswith("v:") and isinstance(node, list):
        value = json.loads(last[2:])
        node[:] = [v for v in node if v != value]


def _child(node: Any, step: str) -> Any:
    if step.startswith("f:"):
        return node.get(step[2:]) if isinstance(node, dict) else None
    if step.startswith("k:") and isinstance(node, list):
        ident = json.loads(step[2:])
        for item in node:
            if item_key(item, tuple(ident)) == step:
                return item
    return None
