"""Loading YAML annotation values safely, reporting the line of a syntax error.

libyaml (``CSafeLoader``) parses about 7x faster than PyYAML's own parser, but the two disagree
on some unusual text (tabs, tags, a comment right after a block scalar header, byte order marks):
libyaml takes what PyYAML refuses. So libyaml only reads text both are known to agree on
(printable ASCII and newlines, none of those constructs); everything else, and every error, goes
to PyYAML's parser, which decides and words the message. Same values, same errors, either way.
"""

from __future__ import annotations

import re
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

_FastLoader: Any = None  # libyaml's parser with the same constructors, when PyYAML has it
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """CSafeLoader that refuses duplicate keys, like ``_Loader``."""

    _CLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _FastLoader = _CLoader

_NOT_PLAIN = re.compile(r"[^\n\x20-\x7e]")  # anything but printable ASCII and newlines
_DISAGREE = re.compile(r"!|[|>][-+0-9]*#")  # tags; a comment glued to a block scalar header


def _fast(text: str) -> Any:
    """libyaml's reading of ``text``, or ``_FAILED`` when PyYAML's parser must decide."""
    if _FastLoader is None or _NOT_PLAIN.search(text) or _DISAGREE.search(text):
        return _FAILED
    try:
        return yaml.load(text, Loader=_FastLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return _FAILED


_FAILED = object()


def load_yaml(text: str, path: str, problems: Problems) -> Any:
    """Parse one YAML (or JSON) document; on failure record the line and return ``FAILED``."""
    if len(text) > MAX_TEXT:
        problems.add(path, f"is {len(text)} bytes, larger than {MAX_TEXT}")
        return _FAILED
    value = _fast(text)
    if value is not _FAILED:
        return value
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
