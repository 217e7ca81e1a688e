"""The parsed canary specs the webhook keeps, bounded in bytes whatever the input.

A Deployment's updates (scaling, a new image) keep its annotations, so the spec parsed from them
is kept, keyed by the annotation text it depends on. The key is that text, so what the cache
holds grows with it: the entries are counted by the size of their text (times a factor for the
parsed objects), the least recently used ones go first once ``max_bytes`` is reached, and an
entry larger than ``max_bytes / 16`` is never kept (nobody's annotations are that large twice).

Thread-safe: the event loop looks up, the parse workers store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from webhook.errors import SpecError
from webhook.spec import names as n
from webhook.spec.canary import ParsedSpec, parse_canary_spec

DEFAULT_BYTES = 16 * 1024 * 1024
OVERHEAD = 512  # bytes an entry costs beyond its text (dicts, tuples, the spec's objects)
FACTOR = 3  # the parsed objects of a text take about this many times its size

Key = tuple[str, tuple[tuple[str, str], ...]]
Parsed = ParsedSpec | str  # the spec, or the denial message


class NeedsParse(Exception):
    """Raised by a lookup that may not parse (the event loop's): the spec is not cached."""


class SpecCache:
    def __init__(self, max_bytes: int = DEFAULT_BYTES, max_entry: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 16 if max_entry is None else max_entry
        self._entries: OrderedDict[Key, tuple[Parsed, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def size(self) -> int:
        """Bytes accounted to the entries kept."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Parsed | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Key, value: Parsed) -> None:
        cost = cost_of(key)
        if cost > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def cost_of(key: Key) -> int:
    name, items = key
    text = len(name) + sum(len(k) + len(v) for k, v in items)
    return OVERHEAD + FACTOR * text


_NOT_SPEC = frozenset({n.STATUS, n.HISTORY, n.BYPASS})


def relevant(annotations: Mapping[str, Any]) -> dict[str, Any]:
    """The annotations a spec depends on: ``canarist.io/`` ones but the status and the history
    (which change every step) and the record of a policy's bypass."""
    return {k: v for k, v in annotations.items()
            if k.startswith(n.PREFIX) and k not in _NOT_SPEC}


def spec_key(annotations: Mapping[str, Any], name: str) -> Key | None:
    """The cache key: the name and the relevant annotations; ``None`` when a value is not a
    string (never cached)."""
    items = relevant(annotations).items()
    if not all(isinstance(v, str) for _, v in items):
        return None
    return name, tuple(sorted(items))


def parse(name: str, annotations: Mapping[str, Any]) -> Parsed:
    try:
        return parse_canary_spec(annotations, deployment=name)
    except SpecError as exc:
        return str(exc)


SpecLookup = Callable[[Mapping[str, Any], str], Parsed]


def parsing(cache: SpecCache) -> SpecLookup:
    """A lookup that parses on a miss (and keeps the result)."""

    def lookup(annotations: Mapping[str, Any], name: str) -> Parsed:
        key = spec_key(annotations, name)
        if key is None:
            return parse(name, relevant(annotations))
        found = cache.get(key)
        if found is None:
            found = parse(name, dict(key[1]))
            cache.put(key, found)
        return found

    return lookup


def cached_only(cache: SpecCache) -> SpecLookup:
    """A lookup that raises ``NeedsParse`` on a miss: the event loop's, which must not parse."""

    def lookup(annotations: Mapping[str, Any], name: str) -> Parsed:
        key = spec_key(annotations, name)
        found = cache.get(key) if key is not None else None
        if found is None:
            raise NeedsParse
        return found

    return lookup
