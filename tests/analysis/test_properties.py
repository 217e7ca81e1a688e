"""Hypothesis over measurement sequences: no way back from a terminal phase, counters only grow,
the limits hold, and a run resumed from its stored JSON ends exactly like one kept in memory."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analysis.helpers import T0, metric
from webhook.analysis import (
    AnalysisPhase,
    Reading,
    RunSpec,
    RunState,
    assess,
    due,
    terminate,
)

P = AnalysisPhase
NAMES = ("success-rate", "p99", "smoke")

readings = st.one_of(
    st.floats(min_value=-10, max_value=10).map(Reading.of),
    st.just(Reading.of(float("nan"))),
    st.sampled_from(["timeout", "HTTP 502", ""]).map(Reading.failed),
)
ticks = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=25),  # seconds since the previous tick
        st.dictionaries(st.sampled_from(NAMES), readings, max_size=3),
    ),
    max_size=30,
)
specs = st.builds(
    lambda n, count, fl, el, step: RunSpec(
        metrics=tuple(metric(name, low=0.0, high=5.0) for name in NAMES[:n]),
        interval=10.0,
        count=count,
        failure_limit=fl,
        consecutive_error_limit=el,
        step=step if count is not None else None,
    ),
    st.integers(min_value=1, max_value=3),
    st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=9),
)


def _counters(state: RunState) -> dict[str, tuple[int, int, int]]:
    return {m.name: (m.successful, m.failed, m.errors) for m in state.metrics}


@settings(max_examples=300, deadline=None)
@given(specs, ticks)
def test_sequences_respect_the_rules(spec, seq):
    now = T0
    verdict = assess(spec, None, {}, now)
    stored = RunState.from_dict(json.loads(json.dumps(verdict.state.to_dict())))
    for gap, batch in seq:
        now += timedelta(seconds=gap)
        before = verdict.state
        verdict = assess(spec, before, batch, now)
        after = verdict.state
        # resumed from the annotation: same decision as the run kept in memory
        resumed = assess(spec, stored, batch, now)
        assert resumed.state.to_dict() == after.to_dict()
        stored = RunState.from_dict(json.loads(json.dumps(resumed.state.to_dict())))

        if before.phase.terminal:
            assert after == before
            assert verdict.next_at is None
        old, new = _counters(before), _counters(after)
        for name, counts in old.items():
            assert all(a <= b for a, b in zip(counts, new[name], strict=True))
        for m in after.metrics:
            if spec.count is not None:
                assert m.count <= spec.count
            assert m.consecutive_errors <= spec.consecutive_error_limit + 1
            assert m.failed <= spec.failure_limit + 1
            assert len(m.measurements) <= 10
        _check_phase(spec, after)
        assert (verdict.next_at is None) == after.phase.terminal
        if not after.phase.terminal:
            assert verdict.next_at is not None and verdict.next_at <= now + timedelta(seconds=10)
    ended = terminate(spec, verdict.state, now + timedelta(seconds=1))
    assert ended.phase.terminal
    if not verdict.state.phase.terminal:
        assert ended.phase is P.SUCCESSFUL
    assert due(spec, ended.state, now + timedelta(days=1)) == ()


def _check_phase(spec: RunSpec, state: RunState) -> None:
    phases = {m.phase for m in state.metrics}
    failed = any(m.failed > spec.failure_limit for m in state.metrics)
    errored = any(m.consecutive_errors > spec.consecutive_error_limit for m in state.metrics)
    if state.phase is P.FAILED:
        assert failed
    elif state.phase is P.ERROR:
        assert errored and P.FAILED not in phases
    elif state.phase is P.SUCCESSFUL:
        assert spec.count is not None or state.ended_at is not None
        assert all(m.phase is P.SUCCESSFUL for m in state.metrics)
    else:
        assert state.phase is P.RUNNING
        assert not failed and not errored
        assert state.ended_at is None


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["phase", "step", "startedAt", "endedAt", "message", "metrics", "name",
                         "successful", "failed", "errors", "consecutiveErrors", "lastAt",
                         "measurements", "at", "value", "x"]),
        inner, max_size=6),
    max_leaves=30,
))
def test_any_stored_json_reads_as_a_valid_state(raw):
    state = RunState.from_dict(raw)
    for m in state.metrics:
        assert m.consecutive_errors <= m.errors
        assert min(m.successful, m.failed, m.errors) >= 0
    again = RunState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()
