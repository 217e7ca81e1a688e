"""Loading YAML annotation values safely, reporting the line of a syntax error."""

from __future__ import annotations

from typing import Any

import yaml

from webhook.spec.problems import Problems

MAX_TEXT = 256 * 1024  # the API server's limit on all annotations of an object together


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which YAML silently lets the last one win."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_FAILED = object()


def load_yaml(text: str, path: str, problems: Problems) -> Any:
    """Parse one YAML (or JSON) document; on failure record the line and return ``FAILED``."""
    if len(text) > MAX_TEXT:
        problems.add(path, f"is {len(text)} bytes, larger than {MAX_TEXT}")
        return _FAILED
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        problems.add(path, f"YAML does not parse{where}: {what}")
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        problems.add(path, f"YAML does not parse: {exc}")
    return _FAILED


def failed(value: Any) -> bool:
    return value is _FAILED
