"""Reading untrusted manifests: bounded YAML with no aliases, every error with its place.

A manifest is read as ``kubectl`` reads it (YAML 1.1 or JSON, several documents, ``List`` kinds
flattened), with limits: at most ``MAX_BYTES`` per input, ``MAX_DOCUMENTS`` objects in all,
``MAX_DEPTH`` levels of nesting. YAML aliases (``*name``, ``<<: *name``) are refused rather than
expanded, so a few hundred bytes can never become gigabytes; duplicate keys are refused as
``kubectl`` refuses them; timestamps stay strings and numbers must be finite, so every value is
one JSON can carry. Each error names the input, the document (``web.yaml[2]``, 0-based) and
its line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from webhook.errors import InvalidInput, Problem

MAX_BYTES = 4 * 1024 * 1024
MAX_DOCUMENTS = 1000
MAX_DEPTH = 100


@dataclass(frozen=True)
class Source:
    """One input: its name (a file name, or ``-`` for stdin) and its text."""

    name: str
    text: str


@dataclass(frozen=True)
class Doc:
    """One object of the input, with where it came from."""

    source: str
    index: int  # 0-based among the input's objects
    line: int  # 1-based line where its document starts
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}[{self.index}]"


class _Refused(yaml.MarkedYAMLError):
    """A construct the loader refuses (an alias, too deep a nesting), with its position."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _peek(loader: yaml.SafeLoader) -> Any:
    return loader.peek_event()  # type: ignore[no-untyped-call]


class _Loader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, refusing aliases and deep nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = _peek(self)
            raise _Refused(
                f"YAML aliases are not accepted (*{event.anchor}): write the value out",
                event.start_mark,
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(
                    f"nested more than {MAX_DEPTH} levels deep", _peek(self).start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool):
            key = "true" if key else "false"
        elif isinstance(key, int | float) or key is None:
            key = "null" if key is None else str(key)
        if not isinstance(key, str):
            raise _Refused("a mapping key must be a string", key_node.start_mark)
        if key in out:
            raise _Refused(f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _text(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _str(loader: _Loader, node: yaml.ScalarNode) -> str:
    value = str(loader.construct_scalar(node))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("a string holds a lone surrogate, which is not text", node.start_mark
                       ) from None
    return value


def _float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise _Refused(f"{node.value!r} is not a finite number", node.start_mark)
    return float(value)


def _refuse(loader: _Loader, node: yaml.Node) -> None:
    raise _Refused(f"YAML type {node.tag} is not accepted in a manifest", node.start_mark)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _text)  # as kubectl: a string
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:str", _str)
_Loader.add_constructor("tag:yaml.org,2002:binary", _refuse)
_Loader.add_constructor("tag:yaml.org,2002:set", _refuse)
_Loader.add_constructor("tag:yaml.org,2002:omap", _refuse)
_Loader.add_constructor("tag:yaml.org,2002:pairs", _refuse)


def _error(source: str, index: int, exc: yaml.YAMLError) -> Problem:
    where = f"{source}[{index}]"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(where + line, f"YAML does not parse: {what}")
    return Problem(where, f"YAML does not parse: {exc}")


def _documents(source: Source) -> list[tuple[int, Any]]:
    """``(line, value)`` of every non-empty document of one input."""
    if len(source.text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidInput([Problem(source.name, f"is larger than {MAX_BYTES} bytes")])
    loader = _Loader(source.text)
    out: list[tuple[int, Any]] = []
    try:
        while loader.check_node():
            if len(out) >= MAX_DOCUMENTS:
                raise InvalidInput(
                    [Problem(source.name, f"holds more than {MAX_DOCUMENTS} documents")]
                )
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 0
            value = loader.construct_document(node)
            if value is not None:
                out.append((line, value))
    except yaml.YAMLError as exc:
        raise InvalidInput([_error(source.name, len(out), exc)]) from None
    except RecursionError:
        raise InvalidInput(
            [Problem(f"{source.name}[{len(out)}]", "YAML does not parse: nested too deeply")]
        ) from None
    finally:
        loader.dispose()
    return out


def load(sources: Sequence[Source]) -> list[Doc]:
    """Every object of the inputs, in order; ``InvalidInput`` with the place of the first
    document that is not an object with ``apiVersion``, ``kind`` and ``metadata.name``."""
    docs: list[Doc] = []
    for source in sources:
        index = 0
        for line, value in _documents(source):
            items = value.get("items") if isinstance(value, dict) else None
            listed = (
                isinstance(value, dict)
                and str(value.get("kind", "")).endswith("List")
                and isinstance(items, list)
            )
            for obj in items if listed and isinstance(items, list) else [value]:
                _check_object(obj, f"{source.name}[{index}]", line)
                docs.append(Doc(source.name, index, line, obj))
                index += 1
                if len(docs) > MAX_DOCUMENTS:
                    raise InvalidInput(
                        [Problem("", f"the inputs hold more than {MAX_DOCUMENTS} objects")]
                    )
    return docs


def _check_object(obj: Any, where: str, line: int) -> None:
    at = f"{where} (line {line})"
    if not isinstance(obj, dict):
        raise InvalidInput([Problem(at, "must be an object (a YAML mapping)")])
    if obj.get("kind") == "Kustomization":
        raise InvalidInput([Problem(at, "is a Kustomization, not a manifest: convert what it "
                                    "builds (kubectl kustomize DIR | canarist convert -f -)")])
    problems = []
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            problems.append(Problem(f"{at}.{key}", "is required (a string)"))
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        problems.append(Problem(f"{at}.metadata", "is required (a mapping)"))
    else:
        if not isinstance(meta.get("name"), str) or not meta.get("name"):
            problems.append(Problem(f"{at}.metadata.name", "is required (a string)"))
        if "namespace" in meta and not isinstance(meta["namespace"], str):
            problems.append(Problem(f"{at}.metadata.namespace", "must be a string"))
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                problems.append(Problem(f"{at}.metadata.{key}", "must be a mapping"))
                continue
            for k, v in value.items():
                if not isinstance(v, str):
                    problems.append(Problem(f"{at}.metadata.{key}.{k}",
                                            f"must be a string, got {type(v).__name__}"))
    if problems:
        raise InvalidInput(problems)
