"""How ``boundedyaml``'s loaders build values from YAML nodes.

Every loader refuses duplicate keys (YAML silently lets the last one win) and merges merge keys
(``<<``) before the mapping's own keys, which win. The JSON loaders (``Limits.json_values``)
build only what JSON can carry, as kubectl reads YAML: scalar keys as their text, timestamps as
strings, finite numbers, text without lone surrogates, and no ``!!binary``, ``!!set``,
``!!omap`` or ``!!pairs``. A refusal is a ``ConstructorError`` at the node's mark.

The two kinds are separate loader classes (``add_constructors(cls, json_values=...)``), so
annotations, read on every admission review, pay for none of the JSON checks.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import BaseResolver

_MERGE = "tag:yaml.org,2002:merge"


def _refuse_value(problem: str, node: Node) -> NoReturn:
    raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


def _json_key(key: Any, node: Node) -> str:
    """A mapping key as JSON has it: a scalar as its text (``80``, ``true``, ``null``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    _refuse_value("a mapping key must be a string (or a number or boolean)", node)


def _no_duplicates(keys: list[tuple[Any, Node]]) -> None:
    seen: set[Any] = set()
    for key, node in keys:
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable: PyYAML refuses it while building the mapping
        if duplicate:
            shown = repr(key[:61] + "..." if isinstance(key, str) and len(key) > 64 else key)
            _refuse_value(f"duplicate key {shown[:80]}", node)
        seen.add(key)


def _construct_mapping(loader: Any, node: MappingNode, deep: bool = False) -> Any:
    """A mapping without duplicate keys; PyYAML merges ``<<`` first (own keys win)."""
    _no_duplicates([(loader.construct_object(k, deep=deep), k) for k, _ in node.value
                    if k.tag != _MERGE])
    return loader.construct_mapping(node, deep=deep)


def _construct_json_mapping(loader: Any, node: MappingNode, deep: bool = False) -> Any:
    """As ``_construct_mapping``, with every key as JSON has it."""
    _no_duplicates([(_json_key(loader.construct_object(k, deep=deep), k), k)
                    for k, _ in node.value if k.tag != _MERGE])
    loader.flatten_mapping(node)
    return {_json_key(loader.construct_object(k, deep=deep), k): loader.construct_object(
        v, deep=deep) for k, v in node.value}


def _construct_float(loader: Any, node: ScalarNode) -> float:
    value: float = SafeConstructor.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        _refuse_value(f"{node.value[:40]!r} is not a finite number", node)
    return value


def _construct_str(loader: Any, node: ScalarNode) -> str:
    value: str = SafeConstructor.construct_yaml_str(loader, node)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _refuse_value("a string holds a lone surrogate, which is not text", node)
    return value


def _construct_timestamp(loader: Any, node: ScalarNode) -> Any:
    return loader.construct_scalar(node)  # as kubectl: JSON has no timestamps


def _not_json(loader: Any, node: Node) -> Any:
    _refuse_value(f"YAML type {node.tag} is not accepted (JSON has no such value)", node)


_YAML: dict[str, Any] = {BaseResolver.DEFAULT_MAPPING_TAG: _construct_mapping}
_JSON: dict[str, Any] = {
    BaseResolver.DEFAULT_MAPPING_TAG: _construct_json_mapping,
    "tag:yaml.org,2002:float": _construct_float,
    "tag:yaml.org,2002:str": _construct_str,
    "tag:yaml.org,2002:timestamp": _construct_timestamp,
    "tag:yaml.org,2002:binary": _not_json,
    "tag:yaml.org,2002:set": _not_json,
    "tag:yaml.org,2002:omap": _not_json,
    "tag:yaml.org,2002:pairs": _not_json,
}


def add_constructors(cls: Any, *, json_values: bool) -> None:
    """Register the constructors of one kind on a loader class (PyYAML's or libyaml's)."""
    for tag, constructor in (_JSON if json_values else _YAML).items():
        cls.add_constructor(tag, constructor)
