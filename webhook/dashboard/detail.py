"""The detail page of one release, as one JSON document (pure functions of cached objects).

Sections: the summary row; the steps (current highlighted, a timed pause's end); revisions with
their ReplicaSets and pods (readiness per pod); the header and mirror routes in force with their
matches; analysis measurements per metric against the thresholds; Events; the weight history
(``canarist.io/history``) and the time spent per phase; the actions with what each does; and the
proxy's request and error rates when the release uses router ``proxy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from webhook.dashboard.compact import JSON, containers
from webhook.dashboard.permitted import verdicts
from webhook.dashboard.summary import set_weight, summary, timestamp
from webhook.errors import SpecError
from webhook.kube.display import ReleaseView
from webhook.spec import (
    CanarySpec,
    Pause,
    Phase,
    SetHeaderRoute,
    SetMirrorRoute,
    Step,
    parse_canary_spec,
)
from webhook.spec.history import History
from webhook.spec.names import ACTION, HISTORY, STATUS
from webhook.spec.steps import describe_step, weight_at

EVENTS = 50  # most recent Events shown
PREVIOUS = 10  # older revisions shown
_NOT_SPEC = (STATUS, HISTORY, ACTION)


def spec_of(annotations: Mapping[str, str]) -> tuple[CanarySpec | None, str]:
    """The parsed canary spec (or why it does not parse), cached by the annotations."""
    relevant = tuple(sorted((k, v) for k, v in annotations.items() if k not in _NOT_SPEC))
    return _parse(relevant)


@lru_cache(maxsize=1024)
def _parse(relevant: tuple[tuple[str, str], ...]) -> tuple[CanarySpec | None, str]:
    try:
        return parse_canary_spec(dict(relevant)).spec, ""
    except SpecError as exc:
        return None, str(exc)


def steps_view(view: ReleaseView, steps: tuple[Step, ...] | None) -> list[dict[str, Any]]:
    s = view.status
    current = s.step if view.in_release and not view.aborted else -1
    out = []
    for i, step in enumerate(steps or ()):
        state = "done" if i < s.step else "current" if i == current else "pending"
        item: dict[str, Any] = {"index": i, "text": describe_step(step),
                                "kind": type(step).__name__, "state": state}
        if isinstance(step, Pause) and step.duration is not None:
            item["duration"] = step.duration
            started = timestamp(s.step_started_at)
            if state == "current" and started is not None and not view.user_paused:
                item["endsAt"] = started + step.duration
        out.append(item)
    return out


def set_weight_now(view: ReleaseView, steps: tuple[Step, ...] | None,
                   history: History) -> int | None:
    recorded = set_weight(view, history)
    if recorded is not None or steps is None:
        return recorded
    if not view.in_release or view.aborted:
        return 0
    return 100 if view.status.step >= len(steps) else weight_at(steps, view.status.step)


def _rs(rs: JSON, pods: Sequence[JSON]) -> dict[str, Any]:
    return {
        "name": rs["metadata"]["name"], "revision": rs["revision"], "replicas": rs["replicas"],
        "ready": rs["ready"], "available": rs["available"],
        "pods": [{"name": p["metadata"]["name"], "phase": p["phase"], "ready": p["ready"],
                  "restarts": p["restarts"], "terminating": p["deleting"]}
                 for p in sorted(pods, key=lambda p: str(p["metadata"]["name"]))],
    }


def revisions(view: ReleaseView, canary: JSON | None, replica_sets: Sequence[JSON],
              pods: Mapping[str, Sequence[JSON]]) -> list[dict[str, Any]]:
    """Revisions (canary, stable, then older ones), each with its ReplicaSets and pods."""
    s = view.status
    canary_uid = canary["metadata"]["uid"] if canary is not None else ""
    groups: dict[str, dict[str, Any]] = {}
    for rs in sorted(replica_sets, key=lambda r: -int(r["revision"])):
        is_canary = canary_uid and canary_uid in rs["metadata"].get("owners", ())
        key = rs["hash"] or rs["podTemplateHash"]
        if is_canary or (view.in_release and key == s.canary_hash):
            role = "canary"
        elif key == s.stable_hash:
            role = "stable"
        else:
            role = "previous"
        group = groups.setdefault(role + "/" + key, {
            "role": role, "hash": key, "images": [c["image"] for c in rs["containers"]],
            "replicaSets": [],
        })
        group["replicaSets"].append(_rs(rs, pods.get(rs["metadata"]["uid"], ())))
    order = {"canary": 0, "stable": 1, "previous": 2}
    out = sorted(groups.values(), key=lambda g: order[g["role"]])
    current = [g for g in out if g["role"] != "previous"]
    return current + [g for g in out if g["role"] == "previous"][:PREVIOUS]


def routes_view(view: ReleaseView, steps: tuple[Step, ...] | None) -> dict[str, Any]:
    """The header and mirror routes the status says are in force, with their matches."""
    s = view.status
    header_names = list(s.header_routes)
    mirror_names = [m for m in (s.mirror or "").split(",") if m]
    found: dict[str, dict[str, Any]] = {}
    for step in (steps or ())[: s.step + 1]:
        if isinstance(step, SetHeaderRoute) and step.name in header_names:
            found["header/" + step.name] = {
                "name": step.name, "matches": [m.to_dict() for m in step.matches]}
        elif isinstance(step, SetMirrorRoute) and step.name in mirror_names:
            found["mirror/" + step.name] = {
                "name": step.name, "percentage": step.percentage,
                "matches": [m.to_dict() for m in step.matches]}
    return {
        "headers": [found.get("header/" + n, {"name": n, "matches": []}) for n in header_names],
        "mirrors": [found.get("mirror/" + n, {"name": n, "matches": []}) for n in mirror_names],
    }


def _num(value: Any) -> float | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or value in ("+Inf", "-Inf", "NaN"):
        return value  # type: ignore[no-any-return]
    return None


def analysis_view(view: ReleaseView, spec: CanarySpec | None) -> list[dict[str, Any]]:
    """Each analysis run in the status, its metrics with their thresholds and measurements."""
    raw = view.status.analysis or {}
    limits = {m.name: m for m in (spec.analysis.metrics if spec and spec.analysis else ())}
    runs = []
    for kind in ("step", "background"):
        run = raw.get(kind)
        if not isinstance(run, Mapping):
            continue
        metrics = []
        for m in run.get("metrics") or ():
            if not isinstance(m, Mapping) or not isinstance(m.get("name"), str):
                continue
            limit = limits.get(m["name"])
            measurements = [
                {"at": str(x.get("at", "")), "phase": str(x.get("phase", "")),
                 "value": _num(x.get("value")), "message": str(x.get("message", ""))[:300]}
                for x in (m.get("measurements") or ())[-10:] if isinstance(x, Mapping)
            ]
            metrics.append({
                "name": m["name"], "phase": str(m.get("phase", "")),
                "min": limit.min if limit else None, "max": limit.max if limit else None,
                "provider": type(limit.provider).__name__.removesuffix("Provider").lower()
                if limit else "",
                "measurements": measurements,
            })
        runs.append({"kind": kind, "phase": str(run.get("phase", "")),
                     "message": str(run.get("message", ""))[:300],
                     "step": run.get("step") if isinstance(run.get("step"), int) else None,
                     "metrics": metrics})
    return runs


def phase_times(history: History, now: float) -> list[dict[str, Any]]:
    """Seconds spent in each phase over the recorded release (the current one up to now)."""
    totals: dict[str, float] = {}
    points = history.points
    for i, point in enumerate(points):
        if i + 1 < len(points):
            end: float = points[i + 1].at
        elif point.phase == Phase.HEALTHY.value:
            end = point.at  # the release is over
        else:
            end = max(now, point.at)
        totals[point.phase] = totals.get(point.phase, 0.0) + max(0.0, end - point.at)
    return [{"phase": p, "seconds": round(t)} for p, t in totals.items()]


def events_view(events: Sequence[JSON]) -> list[dict[str, Any]]:
    ordered = sorted(events, key=lambda e: str(e["time"]), reverse=True)[:EVENTS]
    return [{"type": e["type"], "reason": e["reason"], "message": e["message"],
             "count": e["count"], "time": e["time"], "object": e["object"].partition("/")[2]}
            for e in ordered]


def detail(deployment: JSON, canary: JSON | None, replica_sets: Sequence[JSON],
           pods: Mapping[str, Sequence[JSON]], events: Sequence[JSON], *, now: float,
           read_only: bool) -> dict[str, Any]:
    view = ReleaseView.of(deployment)
    annotations = deployment["metadata"]["annotations"]
    spec, problem = spec_of(annotations)
    steps = spec.steps if spec is not None else None
    history = History.from_json(annotations.get(HISTORY))
    doc = summary(deployment, canary)
    doc.update({
        "serverTime": now,
        "specProblem": problem,
        "routers": list(spec.routers) if spec else [],
        "setWeight": set_weight_now(view, steps, history),
        "abortedAt": view.status.aborted_at,
        "containers": containers(deployment["spec"]["template"]),
        "stepList": steps_view(view, steps),
        "revisions": revisions(view, canary, replica_sets, pods),
        "routes": routes_view(view, steps),
        "analysis": analysis_view(view, spec),
        "events": events_view(events),
        "history": history.to_dict() if history.points else None,
        "phaseTimes": phase_times(history, now),
        "actions": [v.to_dict() for v in verdicts(
            view, steps, replicas=deployment["spec"]["replicas"], read_only=read_only)],
    })
    return doc
