"""Analysis in the release: what the runs' phases mean for the steps (Argo Rollouts' mapping).

The loop measures (``webhook.analysis.Measurer``) before planning and hands the updated record in
``World.analysis``; these pure functions read it:

| run phase | analysis step | background analysis |
|---|---|---|
| none yet, Running | wait (requeue when a metric is due) | keep releasing |
| Successful | the step is complete | (ends with the release) |
| Failed, Error | abort | abort |
| Inconclusive | hold (``promote`` skips the step) | hold (``promote`` goes on) |

The record is kept in ``canarist.io/status`` ``analysis``; a new release or a retry starts it
afresh, and the background run is ended (``terminate``) when the release ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from webhook.analysis import (
    AnalysisPhase,
    AnalysisRecord,
    RunState,
    background_active,
    background_spec,
    step_spec,
    terminate,
)
from webhook.analysis.verdict import next_due, own_run
from webhook.release.model import World
from webhook.spec import AnalysisStep, CanarySpec

MIN_WAIT = 0.5  # seconds: never requeue tighter than this for a metric that is due


@dataclass(frozen=True)
class Gate:
    """``verdict``: ``pass``, ``wait``, ``fail`` or ``hold``; ``message`` says why;
    ``wake``: seconds until the next measurement is due (``wait``)."""

    verdict: str
    message: str = ""
    wake: float | None = None


PASS = Gate("pass")


def record(world: World) -> AnalysisRecord:
    """The record measured this reconcile, else the one stored in the status."""
    if world.analysis is not None:
        return world.analysis
    return AnalysisRecord.from_dict(world.status.analysis)


def _wait(state: RunState | None, spec_next: datetime | None, now: datetime) -> Gate:
    if state is None or spec_next is None:
        return Gate("wait", "analysis starting", 0.0)
    seconds = max(MIN_WAIT, (spec_next - now).total_seconds())
    return Gate("wait", state.message or "measuring", seconds)


def _judge(state: RunState | None, spec_next: datetime | None, now: datetime, what: str) -> Gate:
    if state is None or not state.phase.terminal:
        return _wait(state, spec_next, now)
    if state.phase is AnalysisPhase.SUCCESSFUL:
        return PASS
    if state.phase is AnalysisPhase.INCONCLUSIVE:
        return Gate("hold", f"{what} inconclusive: {state.message}; promote to go on")
    return Gate("fail", f"{what} {state.phase.value.lower()}: {state.message}")


def step_gate(spec: CanarySpec, world: World, index: int, now: datetime) -> Gate:
    """The gate of the analysis step at ``index`` (``pass`` for any other step)."""
    if index >= len(spec.steps) or spec.analysis is None:
        return PASS
    step = spec.steps[index]
    if not isinstance(step, AnalysisStep):
        return PASS
    run_spec = step_spec(spec.analysis, step, index)
    state = own_run(run_spec, record(world).step)
    nxt = next_due(run_spec, state) if state is not None else None
    return _judge(state, nxt, now, f"analysis of step {index + 1}")


def background_gate(spec: CanarySpec, world: World, index: int, now: datetime) -> Gate:
    if not background_active(spec.analysis, index):
        return PASS
    assert spec.analysis is not None
    run_spec = background_spec(spec.analysis)
    state = record(world).background
    if state is not None and state.phase.terminal:
        return _judge(state, None, now, "background analysis")
    nxt = next_due(run_spec, state) if state is not None else None
    gate = _wait(state, nxt, now)
    return Gate("pass", gate.message, gate.wake)  # a running background run never blocks


def ended(spec: CanarySpec, world: World, now: datetime) -> AnalysisRecord | None:
    """The record with its background run ended (the release is over), or ``None`` when there
    is nothing to end."""
    rec = record(world)
    if spec.analysis is None or rec.background is None or rec.background.phase.terminal:
        return None
    verdict = terminate(background_spec(spec.analysis), rec.background, now)
    return AnalysisRecord(verdict.state, rec.step, rec.extra)
