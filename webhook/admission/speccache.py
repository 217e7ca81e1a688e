"""The parsed canary specs the webhook keeps, bounded in bytes whatever the input.

The cache itself (``SpecCache``: least recently used first, counted by the annotation text it
is keyed by) is ``webhook.spec.speccache``, shared with the reconciler; here are the webhook's
lookups: one that parses on a miss (the parse workers') and one that may not (the event loop's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webhook.errors import SpecError
from webhook.spec import speccache as shared
from webhook.spec.canary import ParsedSpec, parse_canary_spec
from webhook.spec.speccache import DEFAULT_BYTES, Key, cost_of, relevant, spec_key

Parsed = ParsedSpec | str  # the spec, or the denial message
SpecCache = shared.SpecCache[Parsed]

__all__ = ["DEFAULT_BYTES", "Key", "NeedsParse", "Parsed", "SpecCache", "SpecLookup",
           "cached_only", "cost_of", "parse", "parsing", "relevant", "spec_key"]


class NeedsParse(Exception):
    """Raised by a lookup that may not parse (the event loop's): the spec is not cached."""


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
