"""Specs parsed from annotations, kept bounded in bytes whatever the input.

A Deployment's updates (scaling, a new image, every status write of a release) keep its
annotations, so the spec parsed from them is kept, keyed by the annotation text it depends on:
the webhook (``admission.speccache``) and the reconciler (``release.model``) both do. The key is
that text, so what the cache holds grows with it: the entries are counted by the size of their
text (times a factor for the parsed objects), the least recently used ones go first once
``max_bytes`` is reached, and an entry larger than ``max_entry`` (default ``max_bytes / 16``) is
never kept (nobody's annotations are that large twice). A count of entries would not do: 4096
entries of 2 MB annotations are 8 GB.

Thread-safe (``BoundedCache``): the webhook's event loop looks up, its parse workers store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from webhook.spec import names as n
from webhook.spec.boundedcache import BoundedCache

DEFAULT_BYTES = 16 * 1024 * 1024
OVERHEAD = 512  # bytes an entry costs beyond its text (dicts, tuples, the spec's objects)
FACTOR = 3  # the parsed objects of a text take about this many times its size

Key = tuple[str, tuple[tuple[str, str], ...]]  # the Deployment's name, its relevant annotations
V = TypeVar("V")


class SpecCache(BoundedCache[Key, V]):
    """Parsed specs by their key, each counted by ``cost_of`` its key."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES, max_entry: int | None = None) -> None:
        super().__init__(max_bytes, lambda key, _: cost_of(key), max_entry)


def cost_of(key: Key) -> int:
    name, items = key
    text = len(name) + sum(len(k) + len(v) for k, v in items)
    return OVERHEAD + FACTOR * text


def relevant(annotations: Mapping[str, Any]) -> dict[str, Any]:
    """The annotations a spec depends on: ``canarist.io/`` ones but the status and the history
    (which change every step) and the record of a policy's bypass."""
    return {k: v for k, v in annotations.items() if k.startswith(n.PREFIX) and k not in _NOT_SPEC}


_NOT_SPEC = frozenset({n.STATUS, n.HISTORY, n.BYPASS})


def spec_key(annotations: Mapping[str, Any], name: str) -> Key | None:
    """The cache key: the name and the relevant annotations; ``None`` when a value is not a
    string (never cached)."""
    items = relevant(annotations).items()
    if not all(isinstance(v, str) for _, v in items):
        return None
    return name, tuple(sorted(items))
