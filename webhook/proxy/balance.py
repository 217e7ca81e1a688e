"""Deterministic traffic division: smooth weighted round-robin and a percentage gate.

Both are exact over every cycle of 100 decisions (weight 10 sends exactly 10 of every 100), never
bursty, and cost a few integer operations. State is per worker process; asyncio runs decisions one
at a time, so concurrency inside a worker never breaks exactness.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

STABLE = "stable"
CANARY = "canary"


class SmoothSplit:
    """nginx's smooth weighted round-robin over two peers, stable and canary.

    On each pick every peer's current weight grows by its weight; the largest is chosen and is
    lowered by the total. Weights 90:10 give one canary pick in every ten, exactly.
    """

    __slots__ = ("_canary", "_cur_canary", "_cur_stable", "_stable", "canary_weight")

    def __init__(self, canary_weight: int) -> None:
        if not 0 <= canary_weight <= 100:
            raise ValueError(f"canary weight must be 0..100, got {canary_weight}")
        self.canary_weight = canary_weight
        self._canary = canary_weight
        self._stable = 100 - canary_weight
        self._cur_canary = 0
        self._cur_stable = 0

    def pick(self) -> str:
        if self._canary == 0:
            return STABLE
        if self._stable == 0:
            return CANARY
        cs = self._cur_stable + self._stable
        cc = self._cur_canary + self._canary
        # ties go to stable, so the first request of a cycle is never the canary at weight 50
        if cc > cs:
            self._cur_canary = cc - 100
            self._cur_stable = cs
            return CANARY
        self._cur_stable = cs - 100
        self._cur_canary = cc
        return STABLE


class PercentGate:
    """True for exactly ``percent`` of every 100 calls, spread evenly (Bresenham)."""

    __slots__ = ("_acc", "percent")

    def __init__(self, percent: int) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"percentage must be 0..100, got {percent}")
        self.percent = percent
        self._acc = 0

    def __call__(self) -> bool:
        self._acc += self.percent
        if self._acc >= 100:
            self._acc -= 100
            return True
        return False


class Ring(Generic[T]):
    """Round-robin over a fixed tuple of items."""

    __slots__ = ("_i", "items")

    def __init__(self, items: tuple[T, ...]) -> None:
        self.items = items
        self._i = 0

    def __len__(self) -> int:
        return len(self.items)

    def next(self) -> T:
        items = self.items
        i = self._i
        if i >= len(items):
            i = 0
        self._i = i + 1
        return items[i]
