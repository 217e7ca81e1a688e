"""The one YAML loader of canarist: safe types, no duplicate keys, and bounded work.

Every YAML text canarist reads (annotations, route tables, manifests for ``validate`` and
``render``, the embedded API server's YAML bodies) goes through ``load`` or ``load_all`` with
``Limits``:

- **anchors and aliases** are refused (``Limits(aliases=False)``, annotations and route tables),
  or allowed with the nodes they add bounded (``alias_nodes``): a few hundred bytes of nested
  aliases ("billion laughs") otherwise stand for billions of nodes, which any walk of the value
  (a validation, an error message) then visits. A recursive alias is always refused.
- **nesting** deeper than ``depth`` is refused before the parser does quadratic work on it.
- **time**: a load started inside ``time_budget(seconds)`` stops when the budget is spent.

A refusal is a ``Refused`` (a ``yaml.MarkedYAMLError``) naming the place in the document
(``where``, e.g. ``[2].setHeaderRoute``) and its line and column.

Three parsers, one result. libyaml (``CSafeLoader``) is about 7x faster than PyYAML's own
parser but takes some text PyYAML refuses (tabs, tags, a comment right after a block scalar
header, byte order marks), so it only reads printable ASCII without those constructs; the rest,
and every error, goes to PyYAML's parser, which decides and words the message. libyaml alone
builds the nodes in C, where no limit can be checked: it is used only for text that can hold no
anchor (no ``&``), no alias (no ``*``) and no deep nesting (few brackets and short indentation).
Other text is parsed by libyaml and composed here, with the limits checked node by node.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner


@dataclass(frozen=True)
class Limits:
    """What one load may do. ``depth`` counts nested nodes (``[[1]]`` is 3 deep)."""

    depth: int = 64
    aliases: bool = False
    alias_nodes: int = 10_000  # nodes that aliases may add, when allowed


ANNOTATION = Limits()  # annotation values and route tables: no anchors, no aliases
DOCUMENT = Limits(depth=100, aliases=True, alias_nodes=100_000)  # manifests, request bodies

_MAX_WHERE = 120  # characters of a node's path in a message
_CHECK_EVERY = 128  # nodes between two looks at the clock
_DEADLINE: ContextVar[float | None] = ContextVar("canarist_yaml_deadline", default=None)


class Refused(yaml.MarkedYAMLError):
    """A document over a limit; ``where`` is the path of the node inside it (``""``: the top)."""

    def __init__(self, problem: str, mark: Any, where: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.where = where


class OutOfTime(Refused):
    """The load ran past the deadline of ``time_budget``."""


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Loads in this context (this thread, this task) stop after ``seconds`` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _construct_mapping(loader: Any, node: MappingNode, deep: bool = False) -> Any:
    """A mapping, refusing duplicate keys (YAML silently lets the last one win)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            mark = key_node.start_mark
            shown = repr(key[:61] + "..." if isinstance(key, str) and len(key) > 64 else key)
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {shown[:80]}",
                                                    mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


class _Bounded(Composer):
    """A composer checking ``Limits`` node by node; works on PyYAML's and libyaml's events."""

    limits: Limits = ANNOTATION

    if TYPE_CHECKING:  # from the parser it is mixed with (PyYAML's or libyaml's)

        def check_event(self, *choices: Any) -> bool: ...
        def peek_event(self) -> Any: ...
        def get_event(self) -> Any: ...
        def descend_resolver(self, parent: Node | None, index: Any) -> None: ...
        def ascend_resolver(self) -> None: ...

    def _reset_bounds(self) -> None:
        self._path: list[tuple[Node | None, Any]] = []
        self._depth = 0
        self._composed = 0
        self._added = 0  # nodes added by aliases
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height), once done
        self._deadline = _DEADLINE.get()

    def compose_document(self) -> Node | None:
        self._reset_bounds()
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        path = self._path
        path.append((parent, index))  # made into text only for a message (``where``)
        event = self.peek_event()
        anchor = event.anchor
        if isinstance(event, AliasEvent):
            self._alias(event)
            self.get_event()
            path.pop()
            return self.anchors[anchor]
        limits = self.limits
        if anchor is not None:
            if not limits.aliases:
                self._refuse(f"anchors and aliases are not allowed (&{anchor})", event)
            if anchor in self.anchors:
                self._refuse(f"duplicate anchor &{anchor}", event)
        self._depth += 1
        self._composed += 1
        if self._deadline is not None and self._composed % _CHECK_EVERY == 0:
            self._check_time(event)
        before = self._composed + self._added
        self.descend_resolver(parent, index)
        node: Node
        if isinstance(event, ScalarEvent):
            node = self.compose_scalar_node(anchor)
        else:
            if self._depth > limits.depth:
                self._refuse(f"is nested more than {limits.depth} levels deep", event)
            if isinstance(event, SequenceStartEvent):
                node = self.compose_sequence_node(anchor)
            else:
                node = self.compose_mapping_node(anchor)
        self.ascend_resolver()
        self._depth -= 1
        if limits.aliases:
            self._sizes[id(node)] = (self._composed + self._added - before, _height(self, node))
        path.pop()
        return node

    def _alias(self, event: Any) -> None:
        if not self.limits.aliases:
            self._refuse(f"anchors and aliases are not allowed (*{event.anchor})", event)
        target = self.anchors.get(event.anchor)
        if target is None:
            self._refuse(f"undefined alias *{event.anchor}", event)
        size = self._sizes.get(id(target))
        if size is None:
            self._refuse(f"recursive alias *{event.anchor}", event)
        nodes, height = size
        self._added += nodes
        if self._added > self.limits.alias_nodes:
            self._refuse(
                f"aliases expand to more than {self.limits.alias_nodes} nodes "
                f"(*{event.anchor})",
                event,
            )
        if self._depth + height > self.limits.depth:
            self._refuse(
                f"is nested more than {self.limits.depth} levels deep (*{event.anchor})", event
            )

    def _check_time(self, event: Any) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise OutOfTime("took too long to parse", event.start_mark, self.where())

    def _refuse(self, problem: str, event: Any) -> NoReturn:
        raise Refused(problem, event.start_mark, self.where())

    def where(self) -> str:
        path = "".join(_segment(parent, index) for parent, index in self._path)
        return path if len(path) <= _MAX_WHERE else path[: _MAX_WHERE - 3] + "..."


def _segment(parent: Node | None, index: Any) -> str:
    if isinstance(parent, SequenceNode) and isinstance(index, int):
        return f"[{index}]"
    if isinstance(parent, MappingNode):
        if isinstance(index, ScalarNode):
            return f".{index.value[:64]}"
        return ".(key)" if index is None else ".?"
    return ""


def _height(composer: _Bounded, node: Node) -> int:
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        return 1
    sizes = composer._sizes
    return 1 + max((sizes.get(id(c), (0, 1))[1] for c in children), default=0)


class _GuardedScanner(Scanner):
    """PyYAML's scanner refusing deep flow nesting early: it keeps one possible simple key per
    flow level and checks them all for every token, quadratic in the depth."""

    limits: Limits

    if TYPE_CHECKING:

        def get_mark(self) -> Any: ...

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= self.limits.depth:
            problem = f"is nested more than {self.limits.depth} levels deep"
            raise Refused(problem, self.get_mark(), "")
        super().fetch_flow_collection_start(TokenClass)


class _PyLoader(Reader, _GuardedScanner, Parser, _Bounded, SafeConstructor, Resolver):
    """PyYAML's parser, bounded: decides and words every error."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


_PyLoader.add_constructor(BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_CLoader: Any = None  # libyaml composing in C: unchecked, for plain shallow text only
_CEventsLoader: Any = None  # libyaml's events composed by ``_Bounded``
if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _CLoaderClass(yaml.CSafeLoader):
        """CSafeLoader refusing duplicate keys."""

    class _CEventsClass(_Bounded, CParser, SafeConstructor, Resolver):
        """libyaml's parser, composed by ``_Bounded`` (its methods come first)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    for _cls in (_CLoaderClass, _CEventsClass):
        _cls.add_constructor(BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _CLoader, _CEventsLoader = _CLoaderClass, _CEventsClass

_NOT_PLAIN = re.compile(r"[^\n\x20-\x7e]")  # anything but printable ASCII and newlines
_DISAGREE = re.compile(r"!|[|>][-+0-9]*#")  # tags; a comment glued to a block scalar header
_LEAD = re.compile(r"^[ -]*", re.MULTILINE)  # a line's indentation and sequence dashes


def libyaml_available() -> bool:
    return _CEventsLoader is not None


def _shallow(text: str, depth: int) -> bool:
    """True when ``text`` cannot nest ``depth`` levels: each flow level takes a bracket, each
    block level at least one more column of indentation or one more dash."""
    flow = text.count("[") + text.count("{")
    if flow + 2 >= depth:
        return False
    return flow + len(max(_LEAD.findall(text), key=len, default="")) + 2 < depth


def _loaders(text: str, limits: Limits, fast: bool) -> list[Any]:
    """The loaders to try in order; the last one decides."""
    if not fast or _CEventsLoader is None or _NOT_PLAIN.search(text) or _DISAGREE.search(text):
        return [_PyLoader]
    if "&" not in text and "*" not in text and _shallow(text, limits.depth):
        return [_CLoader, _PyLoader]
    return [_CEventsLoader, _PyLoader]


def _run(loader_class: Any, text: str, limits: Limits, many: bool) -> Any:
    loader = loader_class(text)
    loader.limits = limits
    try:
        if not many:
            return loader.get_single_data()
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    finally:
        loader.dispose()


def _load(text: str, limits: Limits, many: bool, fast: bool) -> Any:
    *quick, last = _loaders(text, limits, fast)
    for loader_class in quick:
        try:
            return _run(loader_class, text, limits, many)
        except Refused:
            raise  # the same refusal either way; not worth a second, slower parse
        except (yaml.YAMLError, RecursionError, ValueError):
            pass  # PyYAML's parser decides, and words the error
    return _run(last, text, limits, many)


def load(text: str, limits: Limits = ANNOTATION, *, fast: bool = True) -> Any:
    """The one document of ``text``; raises ``yaml.YAMLError`` (``Refused`` over a limit).

    ``fast=False`` uses PyYAML's parser only (tests compare the two).
    """
    return _load(text, limits, False, fast)


def load_all(text: str, limits: Limits = DOCUMENT, *, fast: bool = True) -> list[Any]:
    """Every document of a multi-document text (``---``), with ``limits`` for each."""
    docs: list[Any] = _load(text, limits, True, fast)
    return docs


def describe(exc: yaml.YAMLError) -> tuple[str, str]:
    """``(where, message)`` for an error of ``load``: the node's path inside the document and a
    one-line message with the line and column, e.g. ``("[2].pause", "anchors and aliases are
    not allowed (*a) at line 3, column 12")``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, Refused):
            return exc.where, f"{what}{at}"
        return "", f"does not parse{at}: {what}"
    return "", f"does not parse: {_first_line(str(exc))}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "invalid YAML"
    return line if len(line) <= 200 else line[:197] + "..."
