"""Cron schedules as CronJobs read them (robfig/cron v3 ``ParseStandard``), as pure functions.

Five fields (minute, hour, day of month, month, day of week) with ``*``, ``?``, lists, ranges,
steps and month/day names, or a descriptor (``@hourly``, ``@daily``/``@midnight``, ``@weekly``,
``@monthly``, ``@yearly``/``@annually``, ``@every 1h30m``). Errors carry robfig's wording, which
kube-apiserver puts in its 422 (``spec.schedule: Invalid value: "x": expected exactly 5 fields,
found 1: [x]``). ``next_after`` finds the next minute a schedule fires (``Schedule.Next``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (min, max, names) per field
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}
_SEARCH_YEARS = 5  # robfig gives up after five years (e.g. "0 0 30 2 *")


class CronError(ValueError):
    """A schedule robfig/cron refuses; ``str()`` is its message."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month was * or ?
    any_weekday: bool
    every: float = 0.0  # @every: a fixed interval in seconds instead of the fields


def parse(spec: str) -> Schedule:
    """A standard cron spec, or ``CronError`` with robfig's message."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith(("TZ=", "CRON_TZ=")):
        text = text.partition(" ")[2].strip()
    if text.startswith("@"):
        return _descriptor(text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    (mins, _), (hours, _), (days, any_day), (months, _), (weekdays, any_weekday) = (
        _field(f, *_BOUNDS[i]) for i, f in enumerate(fields))
    return Schedule(frozenset(mins), frozenset(hours), frozenset(days), frozenset(months),
                    frozenset(weekdays), any_day, any_weekday)


def _descriptor(text: str) -> Schedule:
    if text.startswith("@every "):
        raw = text[len("@every "):].strip()
        seconds = _duration(raw)
        if seconds is None:
            raise CronError(f"failed to parse duration {text}: time: invalid duration "
                            f'"{raw}"')
        return Schedule(frozenset(), frozenset(), frozenset(), frozenset(), frozenset(),
                        True, True, every=max(1.0, float(int(seconds))))
    expanded = _DESCRIPTORS.get(text.lower())
    if expanded is None:
        raise CronError(f"unrecognized descriptor: {text}")
    return parse(expanded)


def _duration(raw: str) -> float | None:
    if not raw or _DURATION.sub("", raw):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(raw))


def _number(text: str, names: dict[str, int]) -> int:
    named = names.get(text.lower())
    if named is not None:
        return named
    if not re.fullmatch(r"[0-9]+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        "invalid syntax")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    out: set[int] = set()
    star = False
    for expr in text.split(","):
        values, is_star = _range(expr, low, high, names)
        out |= values
        star = star or is_star
    return out, star


def _range(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = low, high, True
    else:
        start = _number(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _number(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(range_and_step[1], {})
        if single:  # "N/step" means N-max/step
            end = high
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < low:
        raise CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _day_matches(s: Schedule, t: dt.datetime) -> bool:
    dom = t.day in s.days
    dow = (t.isoweekday() % 7) in s.weekdays
    if s.any_day or s.any_weekday:
        return dom and dow
    return dom or dow


def next_after(s: Schedule, after: dt.datetime) -> dt.datetime | None:
    """The first time strictly after ``after`` (an aware datetime, in the schedule's zone) at
    which the schedule fires, at minute precision; None if none within five years."""
    if s.every:
        return after.replace(microsecond=0) + dt.timedelta(seconds=s.every)
    t = (after + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    limit = t.year + _SEARCH_YEARS
    while t.year <= limit:
        if t.month not in s.months:
            t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
            continue
        if not _day_matches(s, t):
            t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
            continue
        if t.hour not in s.hours:
            t = t.replace(minute=0) + dt.timedelta(hours=1)
            continue
        if t.minute not in s.minutes:
            t = t + dt.timedelta(minutes=1)
            continue
        return t
    return None
