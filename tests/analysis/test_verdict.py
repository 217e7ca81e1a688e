"""Table tests of the pure verdict logic: every limit at and past its boundary."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.analysis.helpers import FAIL, PASS, T0, metric, reading, run_codes, spec
from webhook.analysis import (
    AnalysisPhase,
    Reading,
    RunSpec,
    assess,
    due,
    next_due,
    start,
    terminate,
    worst,
)

P = AnalysisPhase

# (case, spec arguments, readings in order, run phase, (successful, failed, errors, consecutive))
CASES = [
    # failureLimit: a metric fails when failed > failureLimit
    ("limit 0, one failure", {"failure_limit": 0}, "F", P.FAILED, (0, 1, 0, 0)),
    ("limit 1, one failure tolerated", {"failure_limit": 1}, "F", P.RUNNING, (0, 1, 0, 0)),
    ("limit 1, second failure", {"failure_limit": 1}, "FF", P.FAILED, (0, 2, 0, 0)),
    ("limit 1, failures need not be consecutive", {"failure_limit": 1, "count": 5}, "FSF",
     P.FAILED, (1, 2, 0, 0)),
    ("limit 2, two failures then count", {"failure_limit": 2}, "FSF", P.SUCCESSFUL,
     (1, 2, 0, 0)),
    ("failure on the last measurement beats count", {"failure_limit": 0}, "SSF", P.FAILED,
     (2, 1, 0, 0)),
    # consecutiveErrorLimit: errors when consecutive errors > limit
    ("error limit 0, one error", {"error_limit": 0}, "E", P.ERROR, (0, 0, 1, 1)),
    ("error limit 4, four errors", {"error_limit": 4}, "EEEE", P.RUNNING, (0, 0, 4, 4)),
    ("error limit 4, five errors", {"error_limit": 4}, "EEEEE", P.ERROR, (0, 0, 5, 5)),
    ("a value resets the run of errors", {"error_limit": 2, "count": 5}, "EESEE", P.RUNNING,
     (1, 0, 4, 2)),
    ("a failed value resets it too", {"error_limit": 1, "failure_limit": 3, "count": 5}, "EFE",
     P.RUNNING, (0, 1, 2, 1)),
    ("error limit 1, two in a row after a value", {"error_limit": 1, "count": 5}, "SEE", P.ERROR,
     (1, 0, 2, 2)),
    # count: Successful after count measurements; errors are not counted
    ("count 3, two measurements", {"count": 3}, "SS", P.RUNNING, (2, 0, 0, 0)),
    ("count 3, three measurements", {"count": 3}, "SSS", P.SUCCESSFUL, (3, 0, 0, 0)),
    ("count 3, errors do not count", {"count": 3}, "SESE", P.RUNNING, (2, 0, 2, 1)),
    ("count 3, reached after errors", {"count": 3}, "SESES", P.SUCCESSFUL, (3, 0, 2, 0)),
    ("count 1", {"count": 1}, "S", P.SUCCESSFUL, (1, 0, 0, 0)),
    ("count 1 failing", {"count": 1}, "F", P.FAILED, (0, 1, 0, 0)),
    # background: no count, runs until terminated or failing
    ("background keeps running", {"count": None}, "SSSSSSSSSSSS", P.RUNNING, (12, 0, 0, 0)),
    ("background fails", {"count": None, "failure_limit": 2}, "SFSFSF", P.FAILED, (3, 3, 0, 0)),
    ("background errors", {"count": None, "error_limit": 1}, "SSEE", P.ERROR, (2, 0, 2, 2)),
]


@pytest.mark.parametrize(
    ("case", "args", "codes", "phase", "counters"), CASES, ids=[c[0] for c in CASES]
)
def test_limits(case, args, codes, phase, counters):
    s = spec(**args)
    verdict = run_codes(s, codes)
    ms = verdict.state.metric("success-rate")
    assert ms is not None
    assert verdict.phase is phase, verdict.message
    assert (ms.successful, ms.failed, ms.errors, ms.consecutive_errors) == counters
    assert ms.count == ms.successful + ms.failed
    assert (verdict.next_at is None) == phase.terminal


def test_extra_readings_after_a_terminal_verdict_change_nothing():
    s = spec(failure_limit=0)
    failed = run_codes(s, "F")
    later = assess(s, failed.state, {"success-rate": reading("S")}, T0 + timedelta(hours=1))
    assert later.state == failed.state
    assert later.phase is P.FAILED and later.next_at is None


def test_failed_message_names_metric_value_and_threshold():
    verdict = run_codes(spec(failure_limit=1), "FF")
    assert verdict.message == (
        "metric success-rate Failed: 2 of 2 measurements failed (failureLimit 1); "
        "last: 0.5 is below min 0.9"
    )
    assert verdict.state.ended_at == T0 + timedelta(seconds=10)


def test_error_message_carries_the_provider_message():
    verdict = run_codes(spec(error_limit=0), "E")
    assert verdict.message == (
        "metric success-rate Error: 1 errors in a row (consecutiveErrorLimit 0); "
        "last: prometheus: no answer within 10s"
    )


def test_max_threshold_message():
    s = spec(metrics=(metric("p99", low=None, high=250.0),))
    verdict = assess(s, None, {"p99": Reading.of(612.5)}, T0)
    assert verdict.phase is P.FAILED
    assert "612.5 is above max 250" in verdict.message


@pytest.mark.parametrize(
    ("value", "phase"),
    [
        (0.9, P.SUCCESSFUL),  # min is inclusive
        (0.8999, P.FAILED),
        (250.0, P.SUCCESSFUL),  # max is inclusive
        (250.01, P.FAILED),
        (math.inf, P.FAILED),  # +Inf latency is above any max
        (-math.inf, P.FAILED),
    ],
)
def test_threshold_boundaries(value, phase):
    s = spec(count=1, metrics=(metric("band", low=0.9, high=250.0),))
    assert assess(s, None, {"band": Reading.of(value)}, T0).phase is phase


def test_nan_reading_is_an_error_not_a_pass():
    s = spec(count=1, error_limit=0)
    verdict = assess(s, None, {"success-rate": Reading.of(math.nan)}, T0)
    assert verdict.phase is P.ERROR
    assert "NaN" in verdict.message


def test_reading_before_the_interval_is_ignored():
    s = spec(count=3)
    first = assess(s, None, {"success-rate": reading("S")}, T0)
    early = assess(s, first.state, {"success-rate": reading("F")}, T0 + timedelta(seconds=9))
    assert early.state.metric("success-rate") == first.state.metric("success-rate")
    on_time = assess(s, early.state, {"success-rate": reading("S")}, T0 + timedelta(seconds=10))
    ms = on_time.state.metric("success-rate")
    assert ms is not None and ms.successful == 2


def test_unknown_metric_readings_are_ignored():
    s = spec(count=1)
    verdict = assess(s, None, {"other": Reading.of(FAIL)}, T0)
    assert verdict.phase is P.RUNNING
    assert verdict.state.metric("other") is None


def test_due_and_next_due_follow_the_interval():
    s = spec(count=2, interval=30.0)
    assert [m.name for m in due(s, None, T0)] == ["success-rate"]
    first = assess(s, None, {"success-rate": reading("E")}, T0)
    assert first.next_at == T0 + timedelta(seconds=30)  # errors are retried after interval
    assert due(s, first.state, T0 + timedelta(seconds=29)) == ()
    assert len(due(s, first.state, T0 + timedelta(seconds=30))) == 1
    second = assess(s, first.state, {"success-rate": reading("S")}, T0 + timedelta(seconds=31))
    assert second.next_at == T0 + timedelta(seconds=61)
    done = assess(s, second.state, {"success-rate": reading("S")}, T0 + timedelta(seconds=61))
    assert done.phase is P.SUCCESSFUL and done.next_at is None
    assert due(s, done.state, T0 + timedelta(hours=1)) == ()


def test_new_run_is_pending_and_due_at_once():
    s = spec()
    verdict = assess(s, None, {}, T0)
    assert verdict.phase is P.RUNNING
    assert verdict.next_at == T0
    ms = verdict.state.metric("success-rate")
    assert ms is not None and ms.phase is P.PENDING
    assert verdict.state.started_at == T0 and verdict.state.step == 2


TWO = (metric("success-rate"), metric("p99", low=None, high=250.0))


def test_run_is_running_until_every_metric_reaches_count():
    s = spec(count=2, metrics=TWO)
    first = assess(s, None, {"success-rate": Reading.of(PASS), "p99": Reading.of(10.0)}, T0)
    # success-rate measured twice; p99's second reading is missing (not measured yet)
    second = assess(s, first.state, {"success-rate": Reading.of(PASS)}, T0 + timedelta(seconds=10))
    assert second.phase is P.RUNNING
    sr = second.state.metric("success-rate")
    assert sr is not None and sr.phase is P.SUCCESSFUL
    assert [m.name for m in due(s, second.state, T0 + timedelta(seconds=10))] == ["p99"]
    third = assess(s, second.state, {"p99": Reading.of(12.0)}, T0 + timedelta(seconds=11))
    assert third.phase is P.SUCCESSFUL
    assert third.message == "2 metrics passed"


@pytest.mark.parametrize(
    ("readings", "phase", "culprit"),
    [
        ({"success-rate": Reading.of(FAIL), "p99": Reading.failed("x")}, P.FAILED, "success-rate"),
        ({"success-rate": Reading.of(PASS), "p99": Reading.failed("x")}, P.ERROR, "p99"),
        ({"success-rate": Reading.of(PASS), "p99": Reading.of(300.0)}, P.FAILED, "p99"),
    ],
)
def test_run_phase_is_the_worst_metric_and_stops_the_others(readings, phase, culprit):
    s = spec(count=3, error_limit=0, metrics=TWO)
    verdict = assess(s, None, readings, T0)
    assert verdict.phase is phase
    assert verdict.message.startswith(f"metric {culprit} {phase.value}:")
    assert all(m.phase.terminal for m in verdict.state.metrics)
    others = [m for m in verdict.state.metrics if m.name != culprit]
    assert all(m.phase is not P.RUNNING for m in others)
    assert due(s, verdict.state, T0 + timedelta(hours=1)) == ()


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ((P.SUCCESSFUL, P.INCONCLUSIVE), P.INCONCLUSIVE),
        ((P.INCONCLUSIVE, P.ERROR), P.ERROR),
        ((P.ERROR, P.FAILED), P.FAILED),
        ((P.FAILED, P.SUCCESSFUL, P.ERROR), P.FAILED),
        ((P.SUCCESSFUL, P.RUNNING), P.RUNNING),
        ((P.SUCCESSFUL,), P.SUCCESSFUL),
        ((), None),
    ],
)
def test_worst_order(phases, expected):
    assert worst(phases) is expected


def test_terminate_background_is_successful():
    s = spec(count=None, failure_limit=1)
    running = run_codes(s, "SSFS")
    assert running.phase is P.RUNNING
    ended = terminate(s, running.state, T0 + timedelta(minutes=5))
    assert ended.phase is P.SUCCESSFUL and ended.next_at is None
    ms = ended.state.metric("success-rate")
    assert ms is not None and ms.failed == 1 and ms.message == "4 measurements, ended early"
    assert ended.state.ended_at == T0 + timedelta(minutes=5)


def test_terminate_keeps_a_failed_run_failed():
    s = spec(count=None)
    failed = run_codes(s, "F")
    assert terminate(s, failed.state, T0 + timedelta(minutes=5)).state == failed.state


def test_terminate_before_any_measurement():
    s = spec(count=None)
    ended = terminate(s, None, T0)
    assert ended.phase is P.SUCCESSFUL


def test_state_of_another_step_starts_a_new_run():
    step2 = spec(count=1, step=2)
    done = assess(step2, None, {"success-rate": reading("F")}, T0)
    assert done.phase is P.FAILED
    step4 = spec(count=1, step=4)
    fresh = assess(step4, done.state, {}, T0 + timedelta(minutes=1))
    assert fresh.phase is P.RUNNING and fresh.state.step == 4
    assert fresh.state.started_at == T0 + timedelta(minutes=1)


def test_step_naming_missing_metrics_errors_at_once():
    s = RunSpec((), 10.0, 3, 0, 4, step=1, missing=("latency",))
    assert due(s, None, T0) == ()
    verdict = assess(s, None, {}, T0)
    assert verdict.phase is P.ERROR
    assert "latency" in verdict.message


def test_a_metric_added_to_the_spec_mid_run_starts_pending():
    s1 = spec(count=None, metrics=(metric("success-rate"),))
    state = assess(s1, None, {"success-rate": reading("S")}, T0).state
    s2 = spec(count=None, metrics=TWO)
    later = T0 + timedelta(seconds=1)
    assert [m.name for m in due(s2, state, later)] == ["p99"]
    verdict = assess(s2, state, {"p99": Reading.of(1.0)}, later)
    p99 = verdict.state.metric("p99")
    assert p99 is not None and p99.successful == 1


def test_start_lists_every_metric():
    state = start(spec(metrics=TWO), T0)
    assert [m.name for m in state.metrics] == ["success-rate", "p99"]
    assert next_due(spec(metrics=TWO), state) == T0


def test_a_clock_without_zone_is_utc():
    s = spec(count=2)
    first = assess(s, None, {"success-rate": reading("S")}, T0.replace(tzinfo=None))
    assert first.state.started_at == T0
    naive_later = (T0 + timedelta(seconds=10)).replace(tzinfo=None)
    assert len(due(s, first.state, naive_later)) == 1
    assert assess(s, first.state, {"success-rate": reading("S")}, naive_later).phase is P.SUCCESSFUL
