"""Pure helpers for weights and request matches shared by several routers."""

from __future__ import annotations

from enum import Enum

from webhook.errors import RouterError
from webhook.spec import StringMatch


def split_pair(pair: int, weight: int) -> tuple[int, int]:
    """``(stable, canary)`` sharing ``pair``: the canary gets ``weight`` percent of it (rounded
    half up), stable the rest — so the pair's total, and every other destination, is unchanged.
    """
    if not 0 <= weight <= 100:
        raise RouterError(f"weight must be between 0 and 100, got {weight}")
    canary = (pair * weight + 50) // 100
    return pair - canary, canary


class Never(Enum):
    """Sentinel: the two matches can never both hold (drop the combined match)."""

    NEVER = "never"


NEVER = Never.NEVER


def intersect(
    ours: StringMatch | None, theirs: StringMatch | None, where: str
) -> StringMatch | Never | None:
    """The match accepting exactly what both accept, when expressible.

    ``None`` on one side means "anything". Exact and prefix matches combine; a regex combines
    only with an equal regex or an exact value it accepts, otherwise ``RouterError``.
    """
    if ours is None:
        return theirs
    if theirs is None or ours == theirs:
        return ours
    a, b = sorted((ours, theirs), key=lambda m: ("exact", "prefix", "regex").index(m.kind))
    if a.kind == "exact":
        return a if b.matches(a.value) else NEVER
    if a.kind == "prefix" and b.kind == "prefix":
        if a.value.startswith(b.value):
            return a
        return b if b.value.startswith(a.value) else NEVER
    raise RouterError(
        f"{where}: cannot combine the match {_show(ours)} with the route's own match "
        f"{_show(theirs)}; use an exact or prefix match, or a route without that field"
    )


def _show(m: StringMatch) -> str:
    return f"{{{m.kind}: {m.value!r}}}"
