"""``spec.strategy.canary`` as canarist's annotations, field by field.

The result is checked with canarist's own validation (``parse_canary_spec``): a step canarist
refuses becomes ``pause: {}`` (reported), so what is written always passes ``canarist validate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.convert.analysis import Lookup, convert_analysis
from webhook.convert.emit import annotation_yaml
from webhook.convert.report import Notes
from webhook.convert.routing import Routing, convert_routing
from webhook.convert.steps import PAUSE, Steps, convert_steps
from webhook.errors import Problem, SpecError
from webhook.spec import names as n
from webhook.spec import parse_canary_spec
from webhook.spec.durations import MAX_SECONDS, format_duration
from webhook.spec.problems import Problems, at

_PROBLEM_PATH = re.compile(r"^(canarist\.io/[a-z-]+)(?:\[(\d+)\])?")
_INSTEAD = {
    "antiAffinity": ("canarist does not keep canary pods off the stable pods' nodes",
                     "spread the pods with topologySpreadConstraints in the pod template"),
    "canaryMetadata": ("canarist adds no role labels to the pods",
                       "the canary pods are those of Deployment <name>-canary and carry "
                       "rollouts-pod-template-hash = canarist.io/status canaryHash"),
    "stableMetadata": ("canarist adds no role labels to the pods",
                       "the stable pods are the Deployment's own and carry "
                       "rollouts-pod-template-hash = canarist.io/status stableHash"),
    "pingPong": ("canarist has no ping-pong Services",
                 "use stableService and canaryService; at promotion canarist hands the tested "
                 "canary pods to the Deployment, so nothing is restarted"),
    "scaleDownDelayRevisionLimit": ("canarist runs one canary at a time", ""),
    "minPodsPerReplicaSet": ("canarist sizes the canary from the weight alone",
                             "use setCanaryScale: {replicas: N}"),
    "replicaProgressThreshold": ("canarist waits for every canary pod the step needs", ""),
}
_ORDER = (n.STEPS, n.TRAFFIC_ROUTER, *n.ROUTER_OPTIONS, n.STABLE_SERVICE, n.CANARY_SERVICE,
          n.STICKY, n.DYNAMIC_STABLE_SCALE, n.SCALE_DOWN_DELAY, n.ABORT_SCALE_DOWN_DELAY,
          n.ANALYSIS)
_HANDLED = ("canaryService", "stableService", "steps", "trafficRouting", "analysis", "maxSurge",
            "maxUnavailable", "dynamicStableScale", "scaleDownDelaySeconds",
            "abortScaleDownDelaySeconds")


@dataclass
class Canary:
    annotations: dict[str, str] = field(default_factory=dict)
    routing: Routing = field(default_factory=Routing)
    rolling_update: dict[str, Any] = field(default_factory=dict)
    stable: str | None = None
    canary: str | None = None


def convert_canary(m: Mapping[str, Any], path: str, *, rollout: Mapping[str, Any],
                   lookup: Lookup, notes: Notes, subject: str, problems: Problems
                   ) -> Canary | None:
    """The annotations, or ``None`` when the Rollout cannot be converted at all."""
    out = Canary()
    name = str(rollout["metadata"]["name"])
    for key in ("canaryService", "stableService"):
        if m.get(key) is not None and not isinstance(m.get(key), str):
            problems.add(at(path, key), "must be a Service name")
    out.stable, out.canary = m.get("stableService"), m.get("canaryService")
    out.routing = routing = convert_routing(
        m.get("trafficRouting"), at(path, "trafficRouting"), stable=out.stable, rollout=name,
        namespace=rollout["metadata"].get("namespace"), notes=notes, subject=subject,
        problems=problems)
    if routing.unconvertible:
        return None
    ann = out.annotations
    sources = dict.fromkeys(routing.annotations, at(path, "trafficRouting"))
    for key, annotation in (("stableService", n.STABLE_SERVICE),
                            ("canaryService", n.CANARY_SERVICE)):
        if isinstance(m.get(key), str):
            ann[annotation] = m[key]
            sources[annotation] = at(path, key)
            notes.converted(subject, at(path, key), f"{annotation}: {m[key]}")
    ann.update(routing.annotations)
    steps = convert_steps(m.get("steps"), at(path, "steps"), max_weight=routing.max_weight,
                          split_headers="istio" in routing.routers, notes=notes,
                          subject=subject, problems=problems)
    _behaviour(m, path, out, notes, subject, problems)
    _analysis(m, path, steps, ann, rollout, lookup, notes, subject)
    for key, annotation in (("dynamicStableScale", n.DYNAMIC_STABLE_SCALE),
                            ("scaleDownDelaySeconds", n.SCALE_DOWN_DELAY),
                            ("abortScaleDownDelaySeconds", n.ABORT_SCALE_DOWN_DELAY),
                            ("analysis", n.ANALYSIS), ("steps", n.STEPS)):
        sources.setdefault(annotation, at(path, key))
    for key, (why, instead) in _INSTEAD.items():
        if m.get(key) not in (None, False, {}, []):
            notes.refused(subject, at(path, key), why, instead)
    for key in m:
        if key not in _HANDLED and key not in _INSTEAD:
            notes.refused(subject, at(path, key), f"unknown field {key!r} is left out")
    if problems:
        return out
    ann[n.STEPS] = ""
    out.annotations = {k: ann[k] for k in sorted(
        ann, key=lambda k: _ORDER.index(k) if k in _ORDER else len(_ORDER))}
    for p in _settle(out.annotations, steps, at(path, "steps"), name, notes, subject):
        found = _PROBLEM_PATH.match(p.path)
        source = sources.get(found.group(1) if found else "", path)
        problems.add(source, f"{p.message} (as {p.path})")
    return out


def _behaviour(m: Mapping[str, Any], path: str, out: Canary, notes: Notes, subject: str,
               problems: Problems) -> None:
    ann = out.annotations
    for key in ("maxSurge", "maxUnavailable"):
        value = m.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            problems.add(at(path, key), "must be a number or a percentage")
            continue
        out.rolling_update[key] = value
        notes.converted(subject, at(path, key), f"spec.strategy.rollingUpdate.{key}")
    if m.get("dynamicStableScale") is True:
        ann[n.DYNAMIC_STABLE_SCALE] = "true"
        notes.converted(subject, at(path, "dynamicStableScale"), f"{n.DYNAMIC_STABLE_SCALE}")
    for key, annotation in (("scaleDownDelaySeconds", n.SCALE_DOWN_DELAY),
                            ("abortScaleDownDelaySeconds", n.ABORT_SCALE_DOWN_DELAY)):
        value = m.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.add(at(path, key), "must be a number of seconds")
            continue
        kpath = at(path, key)
        if key == "abortScaleDownDelaySeconds" and value == 0:
            ann[annotation] = format_duration(MAX_SECONDS)
            notes.changed(subject, kpath, f"Argo's 0 keeps an aborted canary's pods; canarist's "
                          f"longest delay is {ann[annotation]}: {annotation}: {ann[annotation]}")
            continue
        if value > MAX_SECONDS:
            value = int(MAX_SECONDS)
            notes.changed(subject, kpath, f"canarist's longest delay is {format_duration(value)}")
        ann[annotation] = format_duration(value)
        notes.converted(subject, kpath, f"{annotation}: {ann[annotation]}")


def _analysis(m: Mapping[str, Any], path: str, steps: Steps, ann: dict[str, str],
              rollout: Mapping[str, Any], lookup: Lookup, notes: Notes, subject: str) -> None:
    background = m.get("analysis") if isinstance(m.get("analysis"), dict) else None
    starting = None
    if background is not None:
        raw = background.get("startingStep")
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            starting = steps.first_at_or_after(raw)
    result = convert_analysis(background, steps.analyses, starting, rollout, lookup, notes,
                              subject, at(path, "analysis"))
    for i, step in result.steps.items():
        steps.steps[i] = step
    if result.annotation is not None:
        ann[n.ANALYSIS] = annotation_yaml(result.annotation, block_depth=5)


def _settle(ann: dict[str, str], steps: Steps, path: str, name: str, notes: Notes,
            subject: str) -> list[Problem]:
    """Validate with canarist's own rules; a refused step becomes ``pause: {}``. What is left
    is a value canarist refuses in a field Argo accepted: bad input."""
    problems: tuple[Problem, ...] = ()
    for _ in range(len(steps.steps) + 2):
        ann[n.STEPS] = annotation_yaml(steps.steps)
        try:
            parse_canary_spec(ann, deployment=name)
            return []
        except SpecError as exc:
            problems = exc.problems
        left = _replace_steps(problems, steps, path, notes, subject)
        if left:
            return left
    return list(problems)


def _replace_steps(problems: tuple[Problem, ...], steps: Steps, path: str, notes: Notes,
                   subject: str) -> list[Problem]:
    left = []
    for p in problems:
        m = _PROBLEM_PATH.match(p.path)
        if m and m.group(1) == n.STEPS and m.group(2) is not None:
            i = int(m.group(2))
            if i < len(steps.steps) and steps.steps[i] != PAUSE:
                steps.steps[i] = dict(PAUSE)
                where = f"{path}[{steps.origins[i]}]"
                notes.refused(subject, where, f"canarist refuses the step ({p}); it becomes "
                              "pause: {}", "rewrite the step as canarist.io/steps accepts it")
                continue
        left.append(p)
    return left

