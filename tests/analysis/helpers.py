"""Small builders shared by the analysis tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webhook.analysis import Reading, RunSpec, RunState, Verdict, assess
from webhook.spec import BuiltinProvider, Metric, PrometheusProvider

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PASS, FAIL = 1.0, 0.5  # around min 0.9


def metric(
    name: str = "success-rate", low: float | None = 0.9, high: float | None = None
) -> Metric:
    provider = (
        BuiltinProvider(name)
        if name == "success-rate"
        else PrometheusProvider("http://127.0.0.1:9", "q")
    )
    return Metric(name, provider, low, high)


def spec(
    *,
    count: int | None = 3,
    failure_limit: int = 0,
    error_limit: int = 4,
    interval: float = 10.0,
    metrics: tuple[Metric, ...] | None = None,
    step: int | None = 2,
) -> RunSpec:
    return RunSpec(
        metrics=metrics if metrics is not None else (metric(),),
        interval=interval,
        count=count,
        failure_limit=failure_limit,
        consecutive_error_limit=error_limit,
        step=step if count is not None else None,
    )


def reading(code: str) -> Reading:
    """``S`` passes, ``F`` fails, ``E`` is a provider error."""
    if code == "S":
        return Reading.of(PASS)
    if code == "F":
        return Reading.of(FAIL)
    if code == "E":
        return Reading.failed("prometheus: no answer within 10s")
    raise ValueError(code)


def run_codes(
    s: RunSpec, codes: str, state: RunState | None = None, start: datetime = T0
) -> Verdict:
    """Feed one reading per interval to every metric of ``s`` (the same code for all)."""
    verdict = assess(s, state, {}, start) if state is None else None
    current = verdict.state if verdict else state
    for i, code in enumerate(codes):
        now = start + timedelta(seconds=s.interval * i)
        verdict = assess(s, current, {m.name: reading(code) for m in s.metrics}, now)
        current = verdict.state
    assert verdict is not None
    return verdict
