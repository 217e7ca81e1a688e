"""The verdict logic: (run spec, stored state, new readings, clock) -> (new state, next time).

Pure functions, no I/O. The rules are Argo Rollouts' (``docs/analysis.md`` has an example of
each):

- a measurement is **Successful** when ``Metric.passes(value)``, else **Failed**; a provider
  that produced no number is an **Error** measurement;
- a metric is **Failed** when failed measurements > ``failureLimit``;
- a metric is **Error** when consecutive errors > ``consecutiveErrorLimit`` (a value resets the
  run of errors; errors do not count toward ``count`` and are retried after ``interval``);
- a metric with a ``count`` is **Successful** after ``count`` measurements without failing;
- once any metric is Failed, Error or Inconclusive the run stops measuring: the metrics still
  running end Successful, and the run's phase is the worst of its metrics
  (Failed > Error > Inconclusive > Successful);
- a run without ``count`` (background) runs until ``terminate``: Successful unless a metric
  already failed.

A terminal run never changes again, and counters only grow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from webhook.analysis.phases import AnalysisPhase, worst
from webhook.analysis.plan import RunSpec
from webhook.analysis.state import HISTORY, Measurement, MetricState, RunState, clip, utc
from webhook.spec import Metric

P = AnalysisPhase


@dataclass(frozen=True)
class Reading:
    """What a provider returned for one metric: a number, or why there is none."""

    value: float | None = None
    error: str = ""

    @classmethod
    def of(cls, value: float) -> Reading:
        return cls(value=value)

    @classmethod
    def failed(cls, message: str) -> Reading:
        return cls(error=message or "the provider failed without a message")


@dataclass(frozen=True)
class Verdict:
    state: RunState
    next_at: datetime | None  # when a measurement is due next; None once the run is terminal

    @property
    def phase(self) -> AnalysisPhase:
        return self.state.phase

    @property
    def message(self) -> str:
        return self.state.message


def start(spec: RunSpec, now: datetime) -> RunState:
    """A new run: every metric Pending, the first measurement due at once."""
    now = utc(now)
    return RunState(
        phase=P.RUNNING,
        started_at=now,
        step=spec.step,
        metrics=tuple(MetricState(m.name) for m in spec.metrics),
    )


def due(spec: RunSpec, state: RunState | None, now: datetime) -> tuple[Metric, ...]:
    """The metrics to measure now: never measured, or last measured ``interval`` ago or more."""
    now = utc(now)
    state = own_run(spec, state)
    if state is None:
        return () if spec.missing else spec.metrics
    if state.phase.terminal or spec.missing:
        return ()
    return tuple(m for m in spec.metrics if _is_due(spec, _metric_state(state, m.name), now))


def assess(
    spec: RunSpec, state: RunState | None, readings: Mapping[str, Reading], now: datetime
) -> Verdict:
    """Apply the readings of the due metrics (others are ignored) and judge the run."""
    now = utc(now)
    state = own_run(spec, state)
    if state is not None and state.phase.terminal:
        return Verdict(state, None)
    if state is None:
        state = start(spec, now)
    elif state.started_at is None:
        state = state.with_(started_at=now)
    if spec.missing:
        names = ", ".join(spec.missing)
        message = f"the analysis step names metrics not in canarist.io/analysis: {names}"
        return Verdict(state.with_(phase=P.ERROR, ended_at=now, message=message), None)
    metrics: list[MetricState] = []
    for metric in spec.metrics:
        ms = _metric_state(state, metric.name)
        reading = readings.get(metric.name)
        if reading is not None and _is_due(spec, ms, now):
            ms = _record(metric, ms, reading, now)
        metrics.append(_judge(spec, ms))
    return _conclude(spec, state, metrics, now)


def terminate(spec: RunSpec, state: RunState | None, now: datetime) -> Verdict:
    """End a run early (the release ended or moved on): Successful unless a metric failed."""
    now = utc(now)
    state = own_run(spec, state)
    if state is None:
        state = start(spec, now)
    if state.phase.terminal:
        return Verdict(state, None)
    metrics = [_judge(spec, _metric_state(state, m.name)) for m in spec.metrics]
    return _conclude(spec, state, metrics, now, terminating=True)


def next_due(spec: RunSpec, state: RunState) -> datetime | None:
    """The earliest time a metric of a running run is due, or ``None`` when none will be."""
    if state.phase.terminal:
        return None
    times: list[datetime] = []
    for metric in spec.metrics:
        ms = _metric_state(state, metric.name)
        if ms.phase.terminal or (spec.count is not None and ms.count >= spec.count):
            continue
        if ms.last_at is not None:
            times.append(ms.last_at + timedelta(seconds=spec.interval))
        elif state.started_at is not None:
            times.append(state.started_at)  # never measured: due at once
    return min(times, default=None)


def own_run(spec: RunSpec, state: RunState | None) -> RunState | None:
    """``state`` if it is this spec's run; ``None`` (start afresh) if it is another step's."""
    if state is None or state.step != spec.step:
        return None
    return state


def _metric_state(state: RunState, name: str) -> MetricState:
    return state.metric(name) or MetricState(name)


def _is_due(spec: RunSpec, ms: MetricState, now: datetime) -> bool:
    if ms.phase.terminal or (spec.count is not None and ms.count >= spec.count):
        return False
    return ms.last_at is None or now >= ms.last_at + timedelta(seconds=spec.interval)


def describe_failure(metric: Metric, value: float) -> str:
    if metric.min is not None and value < metric.min:
        return f"{_num(value)} is below min {_num(metric.min)}"
    if metric.max is not None and value > metric.max:
        return f"{_num(value)} is above max {_num(metric.max)}"
    return f"{_num(value)} is within the thresholds"


def _record(metric: Metric, ms: MetricState, reading: Reading, now: datetime) -> MetricState:
    value = reading.value
    if value is None or math.isnan(value):
        error = reading.error or "the provider returned no number (NaN)"
        m = Measurement(now, P.ERROR, None, clip(error))
        return _append(ms, m, errors=ms.errors + 1, consecutive_errors=ms.consecutive_errors + 1)
    if metric.passes(value):
        m = Measurement(now, P.SUCCESSFUL, value)
        return _append(ms, m, successful=ms.successful + 1, consecutive_errors=0)
    m = Measurement(now, P.FAILED, value, describe_failure(metric, value))
    return _append(ms, m, failed=ms.failed + 1, consecutive_errors=0)


def _append(ms: MetricState, m: Measurement, **counters: int) -> MetricState:
    return ms.with_(last_at=m.at, measurements=(*ms.measurements, m)[-HISTORY:], **counters)


def _judge(spec: RunSpec, ms: MetricState) -> MetricState:
    """A metric's phase from its counters (a terminal phase is kept)."""
    if ms.phase.terminal:
        return ms
    last = ms.measurements[-1] if ms.measurements else None
    if ms.failed > spec.failure_limit:
        detail = f"; last: {last.message}" if last and last.phase is P.FAILED else ""
        message = (
            f"{ms.failed} of {ms.count} measurements failed "
            f"(failureLimit {spec.failure_limit}){detail}"
        )
        return ms.with_(phase=P.FAILED, message=clip(message))
    if ms.consecutive_errors > spec.consecutive_error_limit:
        detail = f"; last: {last.message}" if last and last.phase is P.ERROR else ""
        message = (
            f"{ms.consecutive_errors} errors in a row "
            f"(consecutiveErrorLimit {spec.consecutive_error_limit}){detail}"
        )
        return ms.with_(phase=P.ERROR, message=clip(message))
    if spec.count is not None and ms.count >= spec.count:
        message = f"{ms.count} measurements, {ms.failed} failed (failureLimit {spec.failure_limit})"
        return ms.with_(phase=P.SUCCESSFUL, message=message)
    if ms.count + ms.errors == 0:
        return ms.with_(phase=P.PENDING)
    return ms.with_(phase=P.RUNNING, message=clip(last.message) if last else "")


def _conclude(
    spec: RunSpec,
    state: RunState,
    metrics: list[MetricState],
    now: datetime,
    terminating: bool = False,
) -> Verdict:
    bad = [m for m in metrics if m.phase.bad]
    if bad or terminating:
        why = "ended early" if not bad else f"stopped: metric {bad[0].name} {bad[0].phase.value}"
        metrics = [_stop(m, why) for m in metrics]
    run_phase = worst(m.phase for m in metrics) or P.SUCCESSFUL
    if not run_phase.terminal:
        run = state.with_(phase=P.RUNNING, metrics=tuple(metrics), message=_progress(spec, metrics))
        return Verdict(run, next_due(spec, run))
    message = _final_message(metrics, run_phase)
    run = state.with_(phase=run_phase, metrics=tuple(metrics), message=message, ended_at=now)
    return Verdict(run, None)


def _stop(ms: MetricState, why: str) -> MetricState:
    if ms.phase.terminal:
        return ms
    return ms.with_(phase=P.SUCCESSFUL, message=f"{ms.count} measurements, {why}")


def _progress(spec: RunSpec, metrics: Iterable[MetricState]) -> str:
    total = "" if spec.count is None else f"/{spec.count}"
    return "measuring: " + ", ".join(f"{m.name} {m.count}{total}" for m in metrics)


def _final_message(metrics: list[MetricState], phase: AnalysisPhase) -> str:
    if phase is P.SUCCESSFUL:
        return f"{len(metrics)} metric{'s' if len(metrics) != 1 else ''} passed"
    culprits = [m for m in metrics if m.phase is phase]
    return clip("; ".join(f"metric {m.name} {phase.value}: {m.message}" for m in culprits))


def _num(value: float) -> str:
    return f"{value:g}"
