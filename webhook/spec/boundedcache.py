"""A least-recently-used cache bounded by the bytes its entries are counted for, not by their
number: when entries can be large (annotation texts, compiled patterns), a count bounds nothing.

``cost(key, value)`` says what an entry is counted for; the least recently used entries go first
once ``max_bytes`` is passed, and an entry counted for more than ``max_entry`` (default
``max_bytes / 16``) is never kept. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, max_bytes: int, cost: Callable[[K, V], int],
                 max_entry: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 16 if max_entry is None else max_entry
        self.cost = cost
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def size(self) -> int:
        """Bytes counted for the entries kept."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: K, value: V) -> None:
        cost = self.cost(key, value)
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
            self.hits = self.misses = 0
