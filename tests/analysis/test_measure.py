"""The I/O edge end to end: annotation -> run spec -> measurements over real HTTP -> verdicts,
with the state carried between ticks only through the status annotation's JSON (as a restarted
reconciler would)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import yaml

from tests.analysis.fakes import FakePrometheus, serve
from tests.analysis.helpers import T0
from webhook.analysis import (
    AnalysisPhase,
    AnalysisRecord,
    MeasureContext,
    Measurer,
    RunSpec,
    background_active,
    background_spec,
    due,
    step_spec,
    terminate,
)
from webhook.analysis.providers.base import Source
from webhook.proxy.admin import admin_app
from webhook.proxy.metrics import Metrics
from webhook.spec import AnalysisStep, Metric, PrometheusProvider, ReleaseStatus
from webhook.spec.analysis import parse_analysis
from webhook.spec.problems import Problems

P = AnalysisPhase

ANNOTATION = """
interval: 30s
failureLimit: 1
consecutiveErrorLimit: 2
count: 3
startingStep: 1
metrics:
- name: success-rate
  provider: builtin
  min: 0.95
- name: p99-seconds
  provider:
    prometheus:
      address: {prom}
      query: histogram_quantile(0.99, rate(latency_bucket{{version="canary"}}[1m]))
      timeout: 2s
  max: 0.5
"""
P99 = 'histogram_quantile(0.99, rate(latency_bucket{version="canary"}[1m]))'


def analysis_for(prom: str):
    problems = Problems()
    analysis = parse_analysis(yaml.safe_load(ANNOTATION.format(prom=prom)),
                              "canarist.io/analysis", problems)
    assert analysis is not None, problems
    return analysis


def traffic(ok: int, errors: int) -> Metrics:
    m = Metrics(window_seconds=60)
    for i in range(ok + errors):
        m.record("web", "canary", 500 if i < errors else 200, 0.004)
    return m


async def tick(spec: RunSpec, status: ReleaseStatus, seconds: float, admin: str, prom: str
               ) -> tuple[ReleaseStatus, AnalysisPhase]:
    """One reconcile: read the record from the annotation, measure, write it back."""
    record = AnalysisRecord.from_dict(ReleaseStatus.from_json(status.to_json()).analysis)
    ctx = MeasureContext("shop", "web", T0 + timedelta(seconds=seconds))
    async with Measurer(proxy_admin_url=admin) as measurer:  # a fresh one: as after a restart
        verdict = await measurer.advance(spec, record.step, ctx)
    record = replace(record, step=verdict.state)
    return status.with_(analysis=record.to_dict()), verdict.phase


async def test_step_analysis_passes_after_count_measurements():
    fake = FakePrometheus({P99: 0.12})
    metrics = traffic(ok=200, errors=1)
    async with serve(fake.app()) as prom, serve(admin_app(metrics.snapshot, 60)) as admin:
        spec = step_spec(analysis_for(prom), AnalysisStep(count=2, interval=10.0), 4)
        status = ReleaseStatus(canary_hash="abc")
        phases = []
        for seconds in (0, 5, 10, 20):
            status, phase = await tick(spec, status, seconds, admin, prom)
            phases.append(phase)
    assert phases == [P.RUNNING, P.RUNNING, P.SUCCESSFUL, P.SUCCESSFUL]
    assert len(fake.seen) == 2  # t=0 and t=10; t=5 was not due, t=20 after the end
    assert status.analysis is not None
    step = status.analysis["step"]
    assert step["step"] == 4 and step["message"] == "2 metrics passed"


async def test_step_analysis_fails_when_the_canary_degrades():
    fake = FakePrometheus({P99: 0.12})
    healthy, broken = traffic(ok=200, errors=0), traffic(ok=80, errors=20)
    current = {"m": healthy}

    def snapshot():
        return current["m"].snapshot()

    async with serve(fake.app()) as prom, serve(admin_app(snapshot, 60)) as admin:
        spec = step_spec(analysis_for(prom), AnalysisStep(templates=("success-rate",)), 2)
        assert [m.name for m in spec.metrics] == ["success-rate"] and spec.count == 3
        status = ReleaseStatus(canary_hash="abc")
        status, first = await tick(spec, status, 0, admin, prom)
        current["m"] = broken
        status, second = await tick(spec, status, 30, admin, prom)  # 1 failure tolerated
        status, third = await tick(spec, status, 60, admin, prom)
    assert (first, second, third) == (P.RUNNING, P.RUNNING, P.FAILED)
    assert fake.seen == []  # p99 was not part of this step
    assert status.analysis is not None
    assert status.analysis["step"]["message"] == (
        "metric success-rate Failed: 2 of 3 measurements failed (failureLimit 1); "
        "last: 0.8 is below min 0.95"
    )


async def test_unreachable_provider_ends_in_error_after_the_limit():
    fake = FakePrometheus()  # every query unknown: HTTP 400 bad_data
    async with serve(fake.app()) as prom, serve(admin_app(traffic(50, 0).snapshot, 60)) as admin:
        spec = step_spec(analysis_for(prom), AnalysisStep(templates=("p99-seconds",)), 2)
        status = ReleaseStatus()
        phases = []
        for i in range(3):
            status, phase = await tick(spec, status, 30 * i, admin, prom)
            phases.append(phase)
    assert phases == [P.RUNNING, P.RUNNING, P.ERROR]  # consecutiveErrorLimit 2
    assert status.analysis is not None
    assert "3 errors in a row (consecutiveErrorLimit 2); last: prometheus: HTTP 400: bad_data" \
        in status.analysis["step"]["message"]


async def test_background_run_until_the_release_ends():
    fake = FakePrometheus({P99: 0.2})
    async with serve(fake.app()) as prom, \
            serve(admin_app(traffic(100, 0).snapshot, 60)) as admin:
        analysis = analysis_for(prom)
        assert not background_active(analysis, 0) and background_active(analysis, 1)
        spec = background_spec(analysis)
        state = None
        async with Measurer(proxy_admin_url=admin) as measurer:
            for i in range(5):
                ctx = MeasureContext("shop", "web", T0 + timedelta(seconds=30 * i))
                verdict = await measurer.advance(spec, state, ctx)
                state = verdict.state
                assert verdict.phase is P.RUNNING
                assert verdict.next_at == ctx.now + timedelta(seconds=30)
    ended = terminate(spec, state, T0 + timedelta(minutes=3))
    assert ended.phase is P.SUCCESSFUL
    assert [m.successful for m in ended.state.metrics] == [5, 5]


class Broken:
    """A provider with a bug: raises something that is not a MeasurementError."""

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        raise KeyError("oops")


async def test_a_provider_bug_is_an_error_reading_not_a_crash():
    metric = Metric("m", PrometheusProvider("http://127.0.0.1:9", "q"), max=1.0)
    spec = RunSpec((metric,), 10.0, 3, 0, 0, step=1)
    async with Measurer() as measurer:
        broken: Source = Broken()
        measurer._sources[PrometheusProvider] = broken
        ctx = MeasureContext("shop", "web", T0)
        verdict = await measurer.advance(spec, None, ctx)
    assert verdict.phase is P.ERROR
    assert "unexpected KeyError: 'oops'" in verdict.message
    assert due(spec, verdict.state, T0 + timedelta(hours=1)) == ()
