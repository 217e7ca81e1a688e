"""The analysis state stored in ``canarist.io/status`` (``analysis``): frozen values and JSON.

A restarted reconciler resumes from this state alone, so everything the verdicts need lives
here: per metric the counters Argo keeps (count, successful, failed, errors, consecutive errors),
the time of the last measurement and the last few measurements for people to read.

Reading is lenient: a garbled or hand-edited state reads as the closest valid one (unknown phase
-> Running, missing or negative counters -> 0) and never raises.

```json
{"background": {"phase": "Running", "startedAt": "2026-01-02T03:04:05Z",
                "metrics": [{"name": "success-rate", "phase": "Running", "count": 2,
                             "successful": 2, "failed": 0, "errors": 0, "consecutiveErrors": 0,
                             "lastAt": "2026-01-02T03:04:35Z",
                             "measurements": [{"at": "2026-01-02T03:04:35Z",
                                               "phase": "Successful", "value": 0.998}]}]},
 "step": {"step": 3, "phase": "Successful", ...}}
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from webhook.analysis.phases import AnalysisPhase, parse_phase

HISTORY = 10  # measurements kept per metric, as Argo's DefaultMeasurementHistoryLimit
MESSAGE_LIMIT = 300  # characters of a stored message

JSON = dict[str, Any]


@dataclass(frozen=True)
class Measurement:
    """One measurement: Successful or Failed with its value, or Error with a message."""

    at: datetime
    phase: AnalysisPhase
    value: float | None = None
    message: str = ""


@dataclass(frozen=True)
class MetricState:
    """Argo's ``MetricResult``. Errors do not count toward ``count`` (see ``count``)."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    successful: int = 0
    failed: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    last_at: datetime | None = None
    message: str = ""
    measurements: tuple[Measurement, ...] = ()

    @property
    def count(self) -> int:
        """Measurements that produced a value (Successful or Failed); errors are retried."""
        return self.successful + self.failed

    def with_(self, **changes: Any) -> MetricState:
        return replace(self, **changes)


@dataclass(frozen=True)
class RunState:
    """One analysis run: the background run of a release, or the run of one analysis step."""

    phase: AnalysisPhase = AnalysisPhase.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    step: int | None = None  # index of the analysis step; None for the background run
    message: str = ""
    metrics: tuple[MetricState, ...] = ()

    def metric(self, name: str) -> MetricState | None:
        return next((m for m in self.metrics if m.name == name), None)

    def with_(self, **changes: Any) -> RunState:
        return replace(self, **changes)

    def to_dict(self) -> JSON:
        out: JSON = {"phase": self.phase.value}
        if self.step is not None:
            out["step"] = self.step
        if self.started_at is not None:
            out["startedAt"] = fmt_time(self.started_at)
        if self.ended_at is not None:
            out["endedAt"] = fmt_time(self.ended_at)
        if self.message:
            out["message"] = self.message
        out["metrics"] = [_metric_dict(m) for m in self.metrics]
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> RunState:
        m = raw if isinstance(raw, Mapping) else {}
        step = m.get("step")
        stored = m.get("metrics")
        metrics: list[MetricState] = []
        seen: set[str] = set()
        for item in stored if isinstance(stored, list) else ():
            metric = _metric_from(item)
            if metric is not None and metric.name not in seen:
                seen.add(metric.name)
                metrics.append(metric)
        return cls(
            phase=parse_phase(m.get("phase"), AnalysisPhase.RUNNING),
            started_at=parse_time(m.get("startedAt")),
            ended_at=parse_time(m.get("endedAt")),
            step=step if isinstance(step, int) and _is_int(step) and step >= 0 else None,
            message=_text(m.get("message")),
            metrics=tuple(metrics),
        )


@dataclass(frozen=True)
class AnalysisRecord:
    """``ReleaseStatus.analysis``: the background run and the current step's run."""

    background: RunState | None = None
    step: RunState | None = None
    extra: JSON = field(default_factory=dict, compare=False)

    def to_dict(self) -> JSON:
        out: JSON = dict(self.extra)
        if self.background is not None:
            out["background"] = self.background.to_dict()
        if self.step is not None:
            out["step"] = self.step.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> AnalysisRecord:
        """Read ``ReleaseStatus.analysis`` (``None`` or anything unreadable: no runs)."""
        m = raw if isinstance(raw, Mapping) else {}
        bg, step = m.get("background"), m.get("step")
        extra = {str(k): v for k, v in m.items() if k not in ("background", "step")}
        return cls(
            RunState.from_dict(bg) if isinstance(bg, Mapping) else None,
            RunState.from_dict(step) if isinstance(step, Mapping) else None,
            extra,
        )


def utc(moment: datetime) -> datetime:
    """Clocks without a zone are taken as UTC, so they compare with stored (UTC) times."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def fmt_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, milliseconds only when there are some."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def clip(message: str) -> str:
    """Stored messages stay short: the status annotation is read by people and has a size cap."""
    one_line = " ".join(message.split())
    if len(one_line) <= MESSAGE_LIMIT:
        return one_line
    return one_line[: MESSAGE_LIMIT - 1] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> int:
    return value if _is_int(value) and value >= 0 else 0


def _text(value: Any) -> str:
    return clip(value) if isinstance(value, str) else ""


def _value_json(value: float | None) -> float | str | None:
    # JSON has no infinities; +Inf (a histogram quantile past the last bucket) is kept as text.
    if value is None or math.isfinite(value):
        return value
    return "+Inf" if value > 0 else "-Inf"


def _value_from(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if not math.isnan(raw) else None
    if raw in ("+Inf", "-Inf"):
        return math.inf if raw == "+Inf" else -math.inf
    return None


def _measurement_dict(m: Measurement) -> JSON:
    out: JSON = {"at": fmt_time(m.at), "phase": m.phase.value}
    if m.value is not None:
        out["value"] = _value_json(m.value)
    if m.message:
        out["message"] = m.message
    return out


def _measurement_from(raw: Any) -> Measurement | None:
    if not isinstance(raw, Mapping):
        return None
    at = parse_time(raw.get("at"))
    phase = parse_phase(raw.get("phase"), AnalysisPhase.ERROR)
    if at is None or not phase.terminal:
        return None
    return Measurement(at, phase, _value_from(raw.get("value")), _text(raw.get("message")))


def _metric_dict(m: MetricState) -> JSON:
    out: JSON = {
        "name": m.name,
        "phase": m.phase.value,
        "count": m.count,
        "successful": m.successful,
        "failed": m.failed,
        "errors": m.errors,
        "consecutiveErrors": m.consecutive_errors,
    }
    if m.last_at is not None:
        out["lastAt"] = fmt_time(m.last_at)
    if m.message:
        out["message"] = m.message
    out["measurements"] = [_measurement_dict(x) for x in m.measurements]
    return out


def _metric_from(raw: Any) -> MetricState | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        return None
    history = raw.get("measurements")
    measurements = [_measurement_from(x) for x in history] if isinstance(history, list) else []
    successful, failed = _count(raw.get("successful")), _count(raw.get("failed"))
    errors = _count(raw.get("errors"))
    return MetricState(
        name=raw["name"],
        phase=parse_phase(raw.get("phase"), AnalysisPhase.RUNNING),
        successful=successful,
        failed=failed,
        errors=errors,
        # Consecutive errors cannot outnumber errors, whatever was stored.
        consecutive_errors=min(_count(raw.get("consecutiveErrors")), errors),
        last_at=parse_time(raw.get("lastAt")),
        message=_text(raw.get("message")),
        measurements=tuple(x for x in measurements if x is not None)[-HISTORY:],
    )
