"""Which analysis runs a reconcile measures, and measuring them (the loop's I/O before planning).

A release in flight (not aborted, not promoting, its status already on this revision) measures:
the run of the current step when that step is an ``analysis`` step (and no user pause holds it),
and the background run once the release has reached ``startingStep``. ``runs`` is pure; ``measure``
asks a ``webhook.analysis.Measurer`` (its ``advance`` measures only the metrics that are due) and
returns the ``World`` carrying the updated record for the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from webhook.analysis import (
    AnalysisRecord,
    MeasureContext,
    RunSpec,
    RunState,
    Verdict,
    background_active,
    background_spec,
    step_spec,
)
from webhook.release.bookkeeping import Books
from webhook.release.model import World
from webhook.spec import AnalysisStep, Phase


@dataclass(frozen=True)
class Run:
    kind: str  # "step" or "background"
    spec: RunSpec
    state: RunState | None


class Advancer(Protocol):
    async def advance(
        self, spec: RunSpec, state: RunState | None, context: MeasureContext
    ) -> Verdict: ...


def runs(world: World) -> tuple[Run, ...]:
    spec, status, d = world.spec, world.status, world.deployment
    if spec is None or spec.analysis is None or not world.managed or d.deleting:
        return ()
    books = Books.of(status)
    if (
        not status.in_release
        or status.aborted_at is not None
        or status.phase == Phase.PROMOTING
        or books.release != d.hash
        or status.canary_hash != d.hash
    ):
        return ()
    record = AnalysisRecord.from_dict(status.analysis)
    i = min(status.step, len(spec.steps))
    out: list[Run] = []
    step = spec.steps[i] if i < len(spec.steps) else None
    if isinstance(step, AnalysisStep) and not books.user_paused:
        out.append(Run("step", step_spec(spec.analysis, step, i), record.step))
    if background_active(spec.analysis, i):
        out.append(Run("background", background_spec(spec.analysis), record.background))
    return tuple(out)


def with_verdicts(world: World, verdicts: list[tuple[str, Verdict]]) -> World:
    if not verdicts:
        return world  # nothing measured: the status's record stands
    record = AnalysisRecord.from_dict(world.status.analysis)
    for kind, verdict in verdicts:
        if kind == "step":
            record = replace(record, step=verdict.state)
        else:
            record = replace(record, background=verdict.state)
    return replace(world, analysis=record)


async def measure(world: World, now: datetime, measurer: Advancer) -> World:
    todo = runs(world)
    if not todo:
        return world
    d = world.deployment
    context = MeasureContext(d.namespace, d.name, now)
    verdicts = [(run.kind, await measurer.advance(run.spec, run.state, context)) for run in todo]
    return with_verdicts(world, verdicts)
