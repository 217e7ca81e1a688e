"""Event correlation (client-go ``EventCorrelator``, simplified): pure, clock-driven, bounded.

- **Repeats** of one event (same object, type, reason and message) within ``window`` seconds are
  one Kubernetes Event whose ``count`` grows and ``lastTimestamp`` moves (``kubectl describe``
  shows ``x12 over 3m``), instead of a new object per occurrence.
- **Similar** events (same object, type and reason, many different messages, e.g. a changing
  number in the text) become one ``(combined from similar events): <latest message>`` Event
  once more than ``similar`` distinct messages were seen within ``window``.
- **Write budget** per involved object (``Allowance``): ``burst`` writes, then one every
  ``1/rate`` seconds. The recorder defers (and coalesces) writes beyond it rather than dropping
  them, so counts stay exact while the API sees a bounded number of writes.

Every table is an LRU capped at ``max_keys`` entries, so memory does not grow with time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from webhook.errors import InvalidInput, Problem

COMBINED = "(combined from similar events): "
MAX_MESSAGE = 1024
TYPES = ("Normal", "Warning")

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Involved:
    """The object an Event is about (``involvedObject``)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""
    resource_version: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Involved:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            str(meta.get("namespace") or "default"),
            str(meta.get("name", "")),
            str(meta.get("uid", "")),
            str(meta.get("resourceVersion", "")),
        )

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.namespace, self.name, self.uid)

    def to_json(self) -> dict[str, str]:
        out = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        if self.uid:
            out["uid"] = self.uid
        if self.resource_version:
            out["resourceVersion"] = self.resource_version
        return out


@dataclass(frozen=True)
class Record:
    involved: Involved
    type: str
    reason: str
    message: str

    def __post_init__(self) -> None:
        problems = []
        if self.type not in TYPES:
            problems.append(Problem("type", f"must be Normal or Warning, got {self.type!r}"))
        if not self.reason:
            problems.append(Problem("reason", "required"))
        if problems:
            raise InvalidInput(problems, subject="event")


@dataclass(frozen=True)
class Occurrence:
    """What one ``record`` turns into: the Event ``name`` and its state after this record."""

    name: str
    record: Record
    message: str  # possibly combined or truncated
    count: int
    first: float
    last: float

    @property
    def new(self) -> bool:
        return self.count == 1


class LRU(Generic[K, V]):
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._d: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._d.get(key)
        if value is not None:
            self._d.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.cap:
            self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


@dataclass
class _Seen:
    name: str
    count: int
    first: float
    last: float


class Correlator:
    def __init__(
        self, *, window: float = 600.0, similar: int = 10, max_keys: int = 4096
    ) -> None:
        self.window = window
        self.similar = similar
        self._seen: LRU[tuple[Any, ...], _Seen] = LRU(max_keys)
        self._messages: LRU[tuple[Any, ...], dict[str, float]] = LRU(max_keys)
        self._last_stamp = 0.0

    def observe(self, rec: Record, now: float) -> Occurrence:
        message = self._aggregate(rec, now)
        key = (rec.involved.key, rec.type, rec.reason, message)
        seen = self._seen.get(key)
        if seen is not None and now - seen.last <= self.window:
            seen.count += 1
            seen.last = now
        else:
            seen = _Seen(self._name(rec.involved, now), 1, now, now)
        self._seen.put(key, seen)
        return Occurrence(seen.name, rec, message, seen.count, seen.first, seen.last)

    def _aggregate(self, rec: Record, now: float) -> str:
        message = rec.message[:MAX_MESSAGE]
        key = (rec.involved.key, rec.type, rec.reason)
        messages = self._messages.get(key) or {}
        messages = {m: t for m, t in messages.items() if now - t <= self.window}
        messages[message] = now
        if len(messages) > self.similar * 4:  # keep the newest few only: bounded
            newest = sorted(messages.items(), key=lambda kv: kv[1])[-self.similar * 2 :]
            messages = dict(newest)
        self._messages.put(key, messages)
        if len(messages) > self.similar:
            return (COMBINED + message)[:MAX_MESSAGE]
        return message

    def _name(self, involved: Involved, now: float) -> str:
        """``<object>.<unix nanos in hex>``, unique within this process (as client-go)."""
        stamp = max(int(now * 1e9), int(self._last_stamp) + 1)
        self._last_stamp = float(stamp)
        return f"{involved.name}.{stamp:x}"


class Allowance:
    """Per-object write budget: ``burst`` at once, then ``rate`` per second (pure)."""

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a write may go (0: a token is there)."""
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else float("inf")

    def take(self) -> None:
        self.tokens -= 1.0


def stamp(moment: float) -> str:
    """metav1.Time: RFC 3339, seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def event_body(occ: Occurrence, component: str, instance: str) -> dict[str, Any]:
    """A core/v1 Event as ``kubectl describe`` lists it."""
    inv = occ.record.involved
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": occ.name, "namespace": inv.namespace},
        "involvedObject": inv.to_json(),
        "reason": occ.record.reason,
        "message": occ.message,
        "type": occ.record.type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
        "firstTimestamp": stamp(occ.first),
        "lastTimestamp": stamp(occ.last),
        "count": occ.count,
    }


def bump_patch(occ: Occurrence) -> dict[str, Any]:
    """Merge patch that brings an existing Event to ``occ``."""
    return {"count": occ.count, "lastTimestamp": stamp(occ.last), "message": occ.message}
