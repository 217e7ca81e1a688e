"""How ``boundedyaml``'s loaders build values from YAML nodes.

Every loader refuses duplicate keys (YAML silently lets the last one win) and merges merge keys
(``<<``) before the mapping's own keys, which win. With ``Limits.json_values`` (the loader's
``limits``) a value is only what JSON can carry, as kubectl reads YAML: scalar keys as their
text, timestamps as strings, finite numbers, text without lone surrogates, and no ``!!binary``,
``!!set``, ``!!omap`` or ``!!pairs``. A refusal is a ``ConstructorError`` at the node's mark.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import BaseResolver


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


def _construct_mapping(loader: Any, node: MappingNode, deep: bool = False) -> Any:
    """A mapping, refusing duplicate keys (YAML silently lets the last one win); merge keys
    (``<<``) are merged first, and the mapping's own keys win over merged ones."""
    json_keys = loader.limits.json_values
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if json_keys:
            key = _json_key(key, key_node)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            shown = repr(key[:61] + "..." if isinstance(key, str) and len(key) > 64 else key)
            _refuse_value(f"duplicate key {shown[:80]}", key_node)
        seen.add(key)
    loader.flatten_mapping(node)
    if not json_keys:
        return loader.construct_mapping(node, deep=deep)
    return {_json_key(loader.construct_object(k, deep=deep), k): loader.construct_object(
        v, deep=deep) for k, v in node.value}


def _construct_float(loader: Any, node: ScalarNode) -> float:
    value: float = SafeConstructor.construct_yaml_float(loader, node)
    if loader.limits.json_values and not math.isfinite(value):
        _refuse_value(f"{node.value[:40]!r} is not a finite number", node)
    return value


def _construct_str(loader: Any, node: ScalarNode) -> str:
    value: str = SafeConstructor.construct_yaml_str(loader, node)
    if loader.limits.json_values:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _refuse_value("a string holds a lone surrogate, which is not text", node)
    return value


def _construct_timestamp(loader: Any, node: ScalarNode) -> Any:
    if loader.limits.json_values:
        return loader.construct_scalar(node)  # as kubectl: JSON has no timestamps
    return SafeConstructor.construct_yaml_timestamp(loader, node)


def _not_json(default: Any) -> Any:
    def construct(loader: Any, node: Node) -> Any:
        if loader.limits.json_values:
            _refuse_value(f"YAML type {node.tag} is not accepted (JSON has no such value)", node)
        return default(loader, node)

    return construct


_CONSTRUCTORS: dict[str, Any] = {
    BaseResolver.DEFAULT_MAPPING_TAG: _construct_mapping,
    "tag:yaml.org,2002:float": _construct_float,
    "tag:yaml.org,2002:str": _construct_str,
    "tag:yaml.org,2002:timestamp": _construct_timestamp,
    "tag:yaml.org,2002:binary": _not_json(SafeConstructor.construct_yaml_binary),
    "tag:yaml.org,2002:set": _not_json(SafeConstructor.construct_yaml_set),
    "tag:yaml.org,2002:omap": _not_json(SafeConstructor.construct_yaml_omap),
    "tag:yaml.org,2002:pairs": _not_json(SafeConstructor.construct_yaml_pairs),
}


def add_constructors(cls: Any) -> None:
    """Register the constructors on a loader class (PyYAML's or libyaml's); each load sets
    ``limits`` on its loader instance."""
    for tag, constructor in _CONSTRUCTORS.items():
        cls.add_constructor(tag, constructor)
