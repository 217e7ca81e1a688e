"""RFC 3339 timestamps as the status annotation stores them (UTC, ``Z`` suffix)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def fmt(moment: datetime) -> str:
    """``2026-01-02T03:04:05Z``, with milliseconds only when there are some."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    """The instant, or ``None`` for a missing or unreadable timestamp."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def after(moment: datetime, seconds: float) -> str:
    return fmt(moment + timedelta(seconds=seconds))


def seconds_until(deadline: datetime, now: datetime) -> float:
    return max(0.0, (deadline - now).total_seconds())
