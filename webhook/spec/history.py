"""``canarist.io/history``: how a release's weight and phase moved over time, kept in the cluster.

The reconciler writes it in the same write as ``canarist.io/status`` whenever the phase, the
step, the weight the step asks for (``set``) or the weight applied by the routers change, so it
costs no API write of its own. The dashboard draws its weight chart and the time spent per phase
from it, so both survive a dashboard restart. Compact JSON::

    {"release":"7d9f8c6b5","points":[[1767225600,0,0,"Progressing",0],
                                      [1767225604,20,20,"Paused",1], ...]}

``release`` is the canary hash the points belong to; a new release starts a new history. Each
point is ``[unix seconds, set weight, applied weight, phase, step index]``. The history is
bounded: at most ``MAX_POINTS`` points (the first one, where the release started, and the latest
ones), and a text longer than ``MAX_TEXT`` characters is not read at all.

Reading is lenient like the status: a missing, garbled or forged annotation reads as an empty
history, and points that are not well formed are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webhook.spec.status import Phase

MAX_POINTS = 100
MAX_TEXT = 16_384
_PHASES = frozenset(p.value for p in Phase)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Point:
    at: int  # unix seconds
    set_weight: int  # the weight the current step asks for
    weight: int  # the weight applied
    phase: str  # a ``Phase`` value
    step: int  # index of the current step

    def same_state(self, other: Point) -> bool:
        return (self.set_weight, self.weight, self.phase, self.step) == (
            other.set_weight,
            other.weight,
            other.phase,
            other.step,
        )

    def to_list(self) -> list[Any]:
        return [self.at, self.set_weight, self.weight, self.phase, self.step]

    @classmethod
    def of(cls, raw: Any) -> Point | None:
        if not isinstance(raw, list) or len(raw) != 5:
            return None
        at, set_weight, weight, phase, step = raw
        ints = (at, set_weight, weight, step)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
            return None
        if phase not in _PHASES or at < 0 or step < 0:
            return None
        if not (0 <= set_weight <= 100 and 0 <= weight <= 100):
            return None
        return cls(at, set_weight, weight, phase, step)


@dataclass(frozen=True)
class History:
    release: str = ""
    points: tuple[Point, ...] = ()

    def to_json(self) -> str:
        return _ENCODER.encode(
            {"release": self.release, "points": [p.to_list() for p in self.points]}
        )

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "points": [p.to_list() for p in self.points]}

    @classmethod
    def from_json(cls, text: str | None) -> History:
        """Lenient and bounded: anything unreadable is the empty history."""
        if not text or len(text) > MAX_TEXT:
            return cls()
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return cls()
        if not isinstance(raw, dict) or not isinstance(raw.get("release"), str):
            return cls()
        items = raw.get("points")
        if not isinstance(items, list):
            return cls()
        points = [p for p in map(Point.of, items[: MAX_POINTS * 2]) if p is not None]
        return cls(raw["release"], tuple(points[-MAX_POINTS:]))


def record(
    previous: History, release: str, point: Point, *, starts: bool, limit: int = MAX_POINTS
) -> History | None:
    """The history with ``point`` added, or ``None`` when nothing changed.

    ``starts``: ``release`` is a release in progress; a history of another release is replaced
    by a new one. Otherwise (a release that ended, a rollback) the point is added to the history
    there is, and nothing is recorded when there is none (a Deployment never released)."""
    if previous.release != release and starts:
        return History(release, (point,))
    if not previous.points:
        return None
    if previous.points[-1].same_state(point):
        return None
    points = (*previous.points, point)
    if len(points) > limit:
        points = (points[0], *points[len(points) - limit + 1 :])
    return History(previous.release, points)
