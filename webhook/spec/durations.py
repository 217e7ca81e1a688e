"""Durations as Argo Rollouts writes them: ``30`` or ``"30"`` (seconds), ``30s``, ``1m``, ``1h``,
and Go-style compounds such as ``1h30m`` or ``1.5s`` / ``250ms``."""

from __future__ import annotations

import math
import re
from typing import Any

from webhook.spec.problems import Problems, show

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")  # ASCII digits: "٣٠s" is not 30s
_WHOLE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+\Z")
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_SECONDS = 30 * 24 * 3600.0  # a month: anything longer is a typo
ALLOWED = "a number of seconds or a duration such as 30s, 5m, 1h, 1h30m"


def parse_duration(raw: Any, path: str, problems: Problems) -> float | None:
    """Seconds as a float, or ``None`` with a problem recorded."""
    seconds: float | None = None
    if isinstance(raw, bool):
        seconds = None
    elif isinstance(raw, int):
        seconds = float(raw) if abs(raw) <= MAX_SECONDS else (math.inf if raw > 0 else -math.inf)
    elif isinstance(raw, float):
        seconds = raw
    elif isinstance(raw, str) and len(raw) <= 64:
        text = raw.strip()
        if _SECONDS.fullmatch(text):
            seconds = float(text)
        elif _WHOLE.match(text):
            seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(text))
    if seconds is None:
        problems.add(path, f"invalid duration {show(raw)}: must be {ALLOWED}")
        return None
    if math.isnan(seconds):
        problems.add(path, f"invalid duration {show(raw)}: must be a finite number of seconds")
        return None
    if seconds < 0:
        problems.add(path, f"duration must not be negative, got {show(raw)}")
        return None
    if seconds > MAX_SECONDS:
        problems.add(path, f"duration {show(raw)} is longer than 30 days")
        return None
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact text for a duration: 30s, 5m, 1h30m, 250ms."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    total = int(seconds)
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)
