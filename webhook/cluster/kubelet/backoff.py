"""Restart and image-pull back-off as the kubelet computes it (client-go ``flowcontrol.Backoff``
with the kubelet's 10 s initial delay and 300 s cap).

A container's first failure restarts it at once and starts its back-off at 10 s; each later
failure waits out the current delay (counted from when the container finished) and then
doubles it, up to 5 minutes. An entry untouched for twice the cap (10 minutes) is forgotten,
so a container that ran fine that long starts over at 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INITIAL = 10.0
CAP = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


@dataclass
class BackOff:
    initial: float = INITIAL
    cap: float = CAP
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def _expired(self, when: float, entry: _Entry) -> bool:
        return when - entry.last_update > 2 * self.cap

    def next(self, key: str, now: float) -> None:
        """Record one more failure: a fresh (or expired) entry starts at ``initial``."""
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            self._entries[key] = _Entry(self.initial, now)
            return
        entry.backoff = min(entry.backoff * 2, self.cap)
        entry.last_update = now

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry is not None else 0.0

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """Whether ``now`` is still within the current delay counted from ``event_time``."""
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            return False
        return now - event_time < entry.backoff

    def remaining(self, key: str, event_time: float, now: float) -> float:
        """Seconds left of the delay that started at ``event_time`` (0 when none)."""
        if not self.in_backoff_since(key, event_time, now):
            return 0.0
        return max(0.0, event_time + self.get(key) - now)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


def format_duration(seconds: float) -> str:
    """A Go ``time.Duration`` string for whole seconds and minutes: ``10s``, ``2m40s``, ``5m0s``."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"
