"""The one YAML loader of canarist: safe types, no duplicate keys, and bounded work.

Every YAML text canarist reads (annotations, route tables, manifests for ``validate``,
``render`` and ``convert``, the embedded API server's YAML bodies) goes through ``load`` (one
document) or ``documents`` (a ``---`` stream, each document with its index and line) with
``Limits``:

- **anchors and aliases** are refused (``Limits(aliases=False)``, annotations and route tables),
  or allowed with the nodes they add bounded (``alias_nodes``): a few hundred bytes of nested
  aliases ("billion laughs") otherwise stand for billions of nodes, which any walk of the value
  (a validation, an error message) then visits. A recursive alias is always refused.
  ``anchors=True`` lets an anchor stand while aliases stay refused (manifests for ``convert``:
  the refusal then points at the alias to write out).
- **nesting** deeper than ``depth`` is refused before the parser does quadratic work on it.
- **documents**: a stream of more than ``documents`` documents is refused.
- **time**: a load started inside ``time_budget(seconds)`` stops when the budget is spent.
- **values** (``json_values=True``, manifests and request bodies): only what JSON can carry, as
  ``kubectl`` reads YAML: mapping keys written as scalars become strings (``80: x`` is
  ``{"80": "x"}``), other keys are refused; timestamps stay strings; numbers must be finite
  (``.nan``, ``.inf`` refused); strings must be text (no lone surrogates); ``!!binary``,
  ``!!set``, ``!!omap`` and ``!!pairs`` are refused.

Duplicate keys are always refused; merge keys (``<<``) work where aliases do (``yamlvalues``
builds the values; JSON values by loader classes of their own).

A refusal is a ``Refused`` (a ``yaml.MarkedYAMLError``) naming the place in the document
(``where``, e.g. ``[2].setHeaderRoute``) and its line and column; an error of a stream is a
``DocumentError`` that adds the document's index. ``describe`` words either in one line.

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
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from webhook.spec.yamlvalues import add_constructors


@dataclass(frozen=True)
class Limits:
    """What one load may do. ``depth`` counts nested nodes (``[[1]]`` is 3 deep)."""

    depth: int = 64
    aliases: bool = False
    alias_nodes: int = 10_000  # nodes that aliases may add, when allowed
    anchors: bool = False  # an anchor without aliases may stand (implied by ``aliases``)
    json_values: bool = False  # only values JSON can carry (see the module's text)
    documents: int = 1000  # documents in a stream (``documents``), empty ones included


ANNOTATION = Limits()  # annotation values and route tables: no anchors, no aliases
# manifests for validate and render, request bodies, kubeconfig files
DOCUMENT = Limits(depth=100, aliases=True, alias_nodes=100_000, json_values=True)
# manifests for convert: what it writes out must hold no alias, so none is read
MANIFEST = Limits(depth=100, anchors=True, json_values=True)

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


class DocumentError(yaml.YAMLError):
    """An error in document ``index`` (0-based, counting the documents that hold something) of a
    stream read by ``documents``; ``error`` is the error itself (a ``Refused`` over a limit)."""

    def __init__(self, index: int, error: yaml.YAMLError) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Document:
    """One document of a stream that holds something (empty ones are skipped, as kubectl does)."""

    index: int  # 0-based among those documents
    line: int  # 1-based line where its content starts
    value: Any


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Loads in this context (this thread, this task) stop after ``seconds`` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


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
            if not (limits.aliases or limits.anchors):
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
            if self.limits.anchors:
                self._refuse(f"aliases are not allowed (*{event.anchor}): write the value out",
                             event)
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


@dataclass(frozen=True)
class _Classes:
    """The loader classes of one kind of values (``Limits.json_values``)."""

    py: Any  # PyYAML's parser
    c: Any = None  # libyaml composing in C: unchecked, for plain shallow text only
    events: Any = None  # libyaml's events composed by ``_Bounded``


def _classes(json_values: bool) -> _Classes:
    class Py(_PyLoader):
        pass

    add_constructors(Py, json_values=json_values)
    if not getattr(yaml, "__with_libyaml__", False):
        return _Classes(Py)
    from yaml._yaml import CParser

    class C(yaml.CSafeLoader):
        pass

    class Events(_Bounded, CParser, SafeConstructor, Resolver):
        """libyaml's parser, composed by ``_Bounded`` (its methods come first)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    add_constructors(C, json_values=json_values)
    add_constructors(Events, json_values=json_values)
    return _Classes(Py, C, Events)


_LOADERS = {False: _classes(False), True: _classes(True)}

_NOT_PLAIN = re.compile(r"[^\n\x20-\x7e]")  # anything but printable ASCII and newlines
_DISAGREE = re.compile(r"!|[|>][-+0-9]*#")  # tags; a comment glued to a block scalar header
_LEAD = re.compile(r"^[ -]*", re.MULTILINE)  # a line's indentation and sequence dashes


def libyaml_available() -> bool:
    return _LOADERS[False].events is not None


def _shallow(text: str, depth: int) -> bool:
    """True when ``text`` cannot nest ``depth`` levels: each flow level takes a bracket, each
    block level at least one more column of indentation or one more dash."""
    flow = text.count("[") + text.count("{")
    if flow + 2 >= depth:
        return False
    return flow + len(max(_LEAD.findall(text), key=len, default="")) + 2 < depth


def _loaders(text: str, limits: Limits, fast: bool) -> list[Any]:
    """The loaders to try in order; the last one decides."""
    kind = _LOADERS[limits.json_values]
    if not fast or kind.events is None or _NOT_PLAIN.search(text) or _DISAGREE.search(text):
        return [kind.py]
    if "&" not in text and "*" not in text and _shallow(text, limits.depth):
        return [kind.c, kind.py]
    return [kind.events, kind.py]


def _run(loader_class: Any, text: str, limits: Limits, many: bool) -> Any:
    if many:
        return _stream(loader_class, text, limits)
    loader = loader_class(text)
    loader.limits = limits
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _stream(loader_class: Any, text: str, limits: Limits) -> list[Document]:
    docs: list[Document] = []
    read = 0
    loader = None
    try:
        loader = loader_class(text)
        loader.limits = limits
        while loader.check_node():
            node = loader.get_node()
            read += 1
            if read > limits.documents:
                raise Refused(f"has more than {limits.documents} documents", node.start_mark, "")
            value = loader.construct_document(node)
            if value is not None:
                docs.append(Document(len(docs), node.start_mark.line + 1, value))
    except yaml.YAMLError as exc:
        raise DocumentError(len(docs), exc) from None
    except (RecursionError, ValueError) as exc:
        error = yaml.YAMLError(f"{type(exc).__name__}: {_first_line(str(exc))}")
        raise DocumentError(len(docs), error) from None
    finally:
        if loader is not None:
            loader.dispose()
    return docs


def _load(text: str, limits: Limits, many: bool, fast: bool) -> Any:
    *quick, last = _loaders(text, limits, fast)
    for loader_class in quick:
        try:
            return _run(loader_class, text, limits, many)
        except Refused:
            raise  # the same refusal either way; not worth a second, slower parse
        except DocumentError as exc:
            if isinstance(exc.error, Refused):
                raise
        except (yaml.YAMLError, RecursionError, ValueError):
            pass  # PyYAML's parser decides, and words the error
    return _run(last, text, limits, many)


def load(text: str, limits: Limits = ANNOTATION, *, fast: bool = True) -> Any:
    """The one document of ``text``; raises ``yaml.YAMLError`` (``Refused`` over a limit).

    ``fast=False`` uses PyYAML's parser only (tests compare the two).
    """
    return _load(text, limits, False, fast)


def documents(text: str, limits: Limits = DOCUMENT, *, fast: bool = True) -> list[Document]:
    """The documents of a ``---`` stream that hold something, each with ``limits``, its index
    and its line; raises ``DocumentError`` naming the document that failed."""
    docs: list[Document] = _load(text, limits, True, fast)
    return docs


def describe(exc: yaml.YAMLError) -> tuple[str, str]:
    """``(where, message)`` for an error of ``load`` or ``documents``: the node's path inside
    the document and a one-line message with the line and column, e.g. ``("[2].pause",
    "anchors and aliases are not allowed (*a) at line 3, column 12")``. The index of the
    document of a ``DocumentError`` is its ``index``."""
    if isinstance(exc, DocumentError):
        exc = exc.error
    if isinstance(exc, ReaderError):
        return "", f"does not parse at character {exc.position + 1}: {_first_line(str(exc))}"
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
