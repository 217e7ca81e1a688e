"""Which metrics a run measures, how often and how many times: ``RunSpec``, from the annotation.

Two kinds of run, as Argo Rollouts' background and step analyses:

- **background**: every metric of ``canarist.io/analysis``, from step ``startingStep`` until the
  release ends, when asked for (``background: true`` or a ``startingStep``; as in Argo, not by
  default). It has no ``count``: it only ends
  early by failing, or when the release ends (``terminate``).
- **step**: an ``analysis`` step measures the metrics it names (``templates``; none named: all of
  them) ``count`` times, every ``interval`` (the step's own values override the annotation's),
  and the release waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.spec import Analysis, AnalysisStep, Metric


@dataclass(frozen=True)
class RunSpec:
    metrics: tuple[Metric, ...]
    interval: float  # seconds between two measurements of a metric
    count: int | None  # measurements that complete a metric; None: until the run is terminated
    failure_limit: int
    consecutive_error_limit: int
    step: int | None = None  # index of the analysis step; None for the background run
    missing: tuple[str, ...] = ()  # metric names the step asks for that the annotation lacks

    @property
    def kind(self) -> str:
        return "background" if self.step is None else f"step {self.step}"


def background_spec(analysis: Analysis) -> RunSpec:
    return RunSpec(
        metrics=analysis.metrics,
        interval=analysis.interval,
        count=None,
        failure_limit=analysis.failure_limit,
        consecutive_error_limit=analysis.consecutive_error_limit,
    )


def background_active(analysis: Analysis | None, step_index: int) -> bool:
    """Whether the background run should be running while the release is at ``step_index``."""
    return analysis is not None and analysis.background and step_index >= analysis.starting_step


def step_spec(analysis: Analysis, step: AnalysisStep, step_index: int) -> RunSpec:
    """The run of the ``analysis`` step at ``step_index``."""
    if step.templates:
        found = [analysis.metric(name) for name in step.templates]
        metrics = tuple(m for m in found if m is not None)
        missing = tuple(n for n, m in zip(step.templates, found, strict=True) if m is None)
    else:
        metrics, missing = analysis.metrics, ()
    return RunSpec(
        metrics=metrics,
        interval=analysis.interval if step.interval is None else step.interval,
        count=analysis.count if step.count is None else step.count,
        failure_limit=analysis.failure_limit,
        consecutive_error_limit=analysis.consecutive_error_limit,
        step=step_index,
        missing=missing,
    )
