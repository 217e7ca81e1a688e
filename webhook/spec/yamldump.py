"""The one YAML writer of canarist: what it writes, canarist (``boundedyaml``) reads back.

- **No anchors or aliases**, ever: an object referenced twice is written out twice, because
  canarist refuses aliases in annotations, route tables and converted manifests.
- Multi-line strings (steps, analysis, a route table in a ConfigMap) as ``|`` blocks, as people
  write them, when YAML can keep them exact that way.
- Keys in the order they were built; Unicode written as is; lines up to 100 characters.
- Block style throughout, or with ``block_depth`` only the outer levels, the leaves in flow
  style (``- pause: {duration: 30s}``), as Argo Rollouts' documentation writes steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

WIDTH = 100
_UNICODE_BREAKS = frozenset("\x85\u2028\u2029")  # line breaks to YAML 1.1


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if _UNICODE_BREAKS.intersection(value):
        style = '"'  # PyYAML writes them raw in other styles, and reads them back as spaces
    elif "\n" in value and not value.startswith(" ") and all(
            not line.endswith(" ") for line in value.split("\n")):
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Block(dict[str, Any]):
    """A mapping always written in block style."""


class _BlockList(list[Any]):
    """A list always written in block style."""


_Dumper.add_representer(str, _str)
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


def dump_yaml(value: Any, *, block_depth: int | None = None) -> str:
    """``value`` as one YAML document; ``block_depth``: that many outer levels in block style
    and the rest in flow style (``None``: block style throughout)."""
    if block_depth is None:
        flow: bool | None = False
    else:
        value, flow = _blocks(value, block_depth), None
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=flow,
                     width=WIDTH, allow_unicode=True)


def dump_documents(values: Iterable[Any]) -> str:
    """Several documents, separated by ``---``."""
    return "---\n".join(dump_yaml(v) for v in values)
