"""Writing the converted objects: YAML documents (or a JSON ``List``), with no YAML anchors or
aliases anywhere — canarist refuses aliases in its annotations — and multi-line strings (the
steps, the analysis) as ``|`` blocks, as people write them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    block = "\n" in value and not value.startswith(" ") and all(
        not line.endswith(" ") for line in value.split("\n"))
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_Dumper.add_representer(str, _str)


class _Block(dict[str, Any]):
    """A mapping always written in block style."""


class _BlockList(list[Any]):
    """A list always written in block style."""


_Dumper.add_representer(_Block, lambda d, v: d.represent_mapping(
    "tag:yaml.org,2002:map", v, flow_style=False))
_Dumper.add_representer(_BlockList, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=False))


def _blocks(value: Any, depth: int) -> Any:
    if depth <= 0:
        return value
    if isinstance(value, dict):
        return _Block({k: _blocks(v, depth - 1) for k, v in value.items()})
    if isinstance(value, list):
        return _BlockList(_blocks(v, depth - 1) for v in value)
    return value


def annotation_yaml(value: Any, block_depth: int = 2) -> str:
    """An annotation's YAML value: the outer ``block_depth`` levels in block style, the leaves
    in flow style (``- pause: {duration: 30s}``), as Argo Rollouts' documentation writes steps."""
    return yaml.dump(_blocks(value, block_depth), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=None, width=100, allow_unicode=True)


def dump(objects: Sequence[dict[str, Any]], output: str = "yaml") -> str:
    if output == "json":
        body = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    docs = [yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                      width=100, allow_unicode=True) for obj in objects]
    return "---\n".join(docs)
