"""A Rollout's analysis (background and steps) and its templates as ``canarist.io/analysis``.

Each run's templates are looked up in the input (``clusterScope: true`` for a
ClusterAnalysisTemplate), their args filled from the run's, and each metric converted
(``metric.py``). A metric used with the same final content twice is one canarist metric; two
different ones of the same name get ``-2``, ``-3``... An ``analysis`` step names the metrics of its
templates and carries their ``count`` and ``interval``; a step none of whose metrics converts
becomes ``pause: {}``, so the release waits for a person instead of passing an unchecked gate.
canarist applies ``interval``, ``failureLimit`` and ``consecutiveErrorLimit`` to all metrics of
the annotation: when Argo's metrics disagree, the strictest is taken and the change reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.convert.metric import Converted, convert_metric
from webhook.convert.report import Notes
from webhook.convert.templating import Arg, fill, rollout_args, template_args
from webhook.spec.durations import format_duration
from webhook.spec.problems import at, index

# (name, cluster scope) -> (subject, the template object), or None when not in the input.
Lookup = Callable[[str, bool], tuple[str, Mapping[str, Any]] | None]
MAX_NESTING = 5
PAUSE: dict[str, Any] = {"pause": {}}


@dataclass
class _Run:
    path: str
    metrics: list[Converted] = field(default_factory=list)


@dataclass
class Analysis:
    """What the converter writes: the annotation (``None``: no analysis) and, by step index,
    the step to write instead of the Rollout's ``analysis`` step."""

    annotation: dict[str, Any] | None = None
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Builder:
    lookup: Lookup
    notes: Notes
    subject: str
    rollout: Mapping[str, Any]
    by_content: dict[str, str] = field(default_factory=dict)  # content -> canarist name
    names: set[str] = field(default_factory=set)
    chosen: list[Converted] = field(default_factory=list)

    def run(self, raw: Mapping[str, Any], path: str) -> _Run:
        run = _Run(path)
        templates = self._templates(raw.get("templates"), at(path, "templates"))
        defaults: dict[str, Arg] = {}
        for _, tpl in templates:
            for name, arg in template_args((tpl.get("spec") or {}).get("args")).items():
                defaults.setdefault(name, arg)
        args = {**defaults, **rollout_args(raw.get("args"), self.rollout)}
        for key in ("dryRun", "measurementRetention", "analysisRunMetadata"):
            if raw.get(key):
                self.notes.refused(self.subject, at(path, key), f"canarist has no {key}",
                                   "" if key != "dryRun" else "leave the metric out")
        for subject, tpl in templates:
            self._template_metrics(subject, tpl, args, run)
        return run

    def _templates(self, refs: Any, path: str, depth: int = 0
                   ) -> list[tuple[str, Mapping[str, Any]]]:
        found: list[tuple[str, Mapping[str, Any]]] = []
        for i, ref in enumerate(refs if isinstance(refs, list) else ()):
            if not isinstance(ref, dict) or not isinstance(ref.get("templateName"), str):
                continue
            cluster = ref.get("clusterScope") is True
            hit = self.lookup(ref["templateName"], cluster)
            if hit is None:
                kind = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
                self.notes.refused(
                    self.subject, index(path, i),
                    f"{kind} {ref['templateName']!r} is not in the input",
                    "convert it together with the Rollout (-f templates.yaml)")
                continue
            found.append(hit)
            nested = (hit[1].get("spec") or {}).get("templates")
            if nested and depth < MAX_NESTING:
                found.extend(self._templates(nested, f"{hit[0]}: spec.templates", depth + 1))
        return found

    def _template_metrics(self, subject: str, tpl: Mapping[str, Any], args: dict[str, Arg],
                          run: _Run) -> None:
        spec = tpl.get("spec") or {}
        dry = {d.get("metricName") for d in _list(spec.get("dryRun")) if isinstance(d, dict)}
        metrics = spec.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            self.notes.refused(subject, "spec.metrics", "must be a list of metrics")
            return
        for i, raw in enumerate(metrics):
            path = index("spec.metrics", i)
            if not isinstance(raw, dict):
                self.notes.refused(subject, path, "must be a mapping; left out")
                continue
            if raw.get("name") in dry or ".*" in dry:
                self.notes.refused(subject, path, "a dry-run metric never decided Argo's verdict; "
                                   "canarist has no dry run, so it is left out",
                                   "add it by hand once it should gate releases")
                continue
            filled = fill(raw, args)
            if filled.problems:
                first = filled.problems[0]
                self.notes.refused(subject, path, f"{first.problem}; the metric is left out",
                                   first.instead)
                continue
            for note in filled.notes:
                self.notes.changed(subject, path, note)
            converted = convert_metric(filled.value, self.notes, subject, path)
            if converted is not None:
                run.metrics.append(self._named(converted))
                self.notes.converted(subject, path, f"metric {converted.metric['name']!r} of "
                                     f"canarist.io/analysis ({self.subject})")

    def _named(self, c: Converted) -> Converted:
        key = json.dumps([c.metric, c.interval, c.count, c.failure_limit, c.error_limit],
                         sort_keys=True)
        name = self.by_content.get(key)
        if name is None:
            base, name, n = c.metric["name"], c.metric["name"], 1
            while name in self.names:
                n += 1
                name = f"{base[:60]}-{n}"
            self.names.add(name)
            self.by_content[key] = name
            self.chosen.append(Converted({**c.metric, "name": name}, c.interval, c.count,
                                         c.failure_limit, c.error_limit))
        return next(m for m in self.chosen if m.metric["name"] == name)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def convert_analysis(
    background: Mapping[str, Any] | None,
    step_runs: dict[int, tuple[str, Mapping[str, Any]]],
    starting_step: int | None,
    rollout: Mapping[str, Any],
    lookup: Lookup,
    notes: Notes,
    subject: str,
    background_path: str,
) -> Analysis:
    """``step_runs``: output step index -> (the step's path, its ``analysis`` mapping);
    ``starting_step``: the background run's first step, as an output step index."""
    b = _Builder(lookup, notes, subject, rollout)
    bg = b.run(background, background_path) if background is not None else None
    steps: dict[int, _Run] = {i: b.run(raw, path) for i, (path, raw) in step_runs.items()}
    out = Analysis()
    for i, run in steps.items():
        out.steps[i] = _step(run, notes, subject)
    bg_metrics = bg.metrics if bg is not None else []
    if bg is not None and not bg_metrics:
        notes.refused(subject, background_path, "no metric of the background analysis "
                      "converts, so there is none", "add canarist.io/analysis metrics by hand")
    if not b.chosen:
        return out
    ann: dict[str, Any] = {}
    if bg_metrics:
        interval = _common(bg_metrics, "interval", notes, subject, background_path)
        if interval is not None:
            ann["interval"] = format_duration(interval)
    for key, attr, default in (("failureLimit", "failure_limit", 0),
                               ("consecutiveErrorLimit", "error_limit", 4)):
        value = _strictest(b.chosen, attr, key, notes, subject)
        if value != default:
            ann[key] = value
    ann["background"] = bool(bg_metrics)
    if bg_metrics:
        if starting_step:
            ann["startingStep"] = starting_step
        _background_notes(bg, steps, notes, subject)
    ann["metrics"] = [m.metric for m in b.chosen]
    for step in out.steps.values():
        body = step.get("analysis")
        if isinstance(body, dict) and body.get("interval") == ann.get("interval", "30s"):
            del body["interval"]
    out.annotation = ann
    return out


def _step(run: _Run, notes: Notes, subject: str) -> dict[str, Any]:
    used = [m for m in run.metrics if m.count != 0]
    if len(used) != len(run.metrics):
        notes.changed(subject, run.path, "metrics with count 0 are left out: Argo never runs "
                      "them in a step")
    if not used:
        notes.refused(subject, run.path, "none of its metrics converts; the step becomes "
                      "pause: {}, so the release waits for `canarist promote`",
                      "add canarist.io/analysis metrics and an analysis step by hand")
        return dict(PAUSE)
    body: dict[str, Any] = {"templates": [{"templateName": m.metric["name"]} for m in used]}
    counts = {m.count for m in used}
    if None in counts:
        notes.changed(subject, run.path, "a metric with an interval and no count never ends "
                      "an Argo step (it runs until it fails); canarist takes 3 measurements")
    finite = [c for c in counts if c is not None]
    if finite:
        body["count"] = max(finite)
        if len(set(finite)) > 1:
            notes.changed(subject, run.path, f"canarist takes one count per step: "
                          f"{max(finite)} measurements of each metric")
    interval = _common(used, "interval", notes, subject, run.path)
    if interval is not None:
        body["interval"] = format_duration(interval)
    notes.converted(subject, run.path, "analysis step naming metrics "
                    + ", ".join(m.metric["name"] for m in used))
    return {"analysis": body}


def _common(metrics: list[Converted], attr: str, notes: Notes, subject: str, path: str
            ) -> float | None:
    values = {getattr(m, attr) for m in metrics} - {None}
    if len(values) > 1:
        notes.changed(subject, path, f"canarist takes one {attr} for these metrics: the shortest, "
                      f"{format_duration(min(values))}")
    return min(values) if values else None


def _strictest(metrics: list[Converted], attr: str, key: str, notes: Notes, subject: str) -> int:
    values: set[int] = {getattr(m, attr) for m in metrics}
    if len(values) > 1:
        notes.changed(subject, "spec.strategy.canary", f"canarist applies one {key} to every "
                      f"metric: the strictest, {min(values)}")
    return min(values)


def _background_notes(bg: _Run | None, steps: dict[int, _Run], notes: Notes, subject: str
                      ) -> None:
    if bg is None:
        return
    if any(m.count not in (None, 0) for m in bg.metrics):  # 0: until the rollout ends
        notes.changed(subject, bg.path, "canarist measures background metrics until the "
                      "release ends, not a fixed count")
    only_steps = {m.metric["name"] for r in steps.values() for m in r.metrics} - {
        m.metric["name"] for m in bg.metrics}
    if only_steps:
        notes.changed(subject, bg.path, "canarist's background run measures every metric of "
                      "canarist.io/analysis, step metrics too: " + ", ".join(sorted(only_steps)))
