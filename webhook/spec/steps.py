"""``canarist.io/steps``: Argo Rollouts' canary step syntax, parsed into frozen dataclasses.

Supported steps: ``setWeight``, ``pause``, ``setCanaryScale``, ``setHeaderRoute``,
``setMirrorRoute`` and ``analysis``. Each step is a mapping with exactly one of those keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from webhook.spec.durations import format_duration, parse_duration
from webhook.spec.matches import (
    HeaderMatch,
    MirrorMatch,
    parse_header_matches,
    parse_mirror_fields,
)
from webhook.spec.pasted import unwrap
from webhook.spec.problems import (
    Problems,
    at,
    boolean,
    exactly_one,
    index,
    integer,
    keyed,
    keyed_items,
    mapping,
    required,
    sequence,
    show,
    string,
    suggest,
)

MAX_STEPS = 100
_ROUTE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


@dataclass(frozen=True)
class SetWeight:
    weight: int


@dataclass(frozen=True)
class Pause:
    """``duration`` in seconds; ``None`` waits for a ``promote``."""

    duration: float | None = None


@dataclass(frozen=True)
class SetCanaryScale:
    """Exactly one of ``replicas``, ``weight``, or ``match_traffic_weight``."""

    replicas: int | None = None
    weight: int | None = None
    match_traffic_weight: bool = False


@dataclass(frozen=True)
class SetHeaderRoute:
    """Route requests whose headers match to the canary; no matches removes the route."""

    name: str
    matches: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True)
class SetMirrorRoute:
    """Mirror ``percentage`` of the matching requests to the canary; no matches removes it."""

    name: str
    percentage: int = 100
    matches: tuple[MirrorMatch, ...] = ()


@dataclass(frozen=True)
class AnalysisArg:
    name: str
    value: str


@dataclass(frozen=True)
class AnalysisStep:
    """Run metrics of ``canarist.io/analysis`` and block until they pass.

    ``templates`` names the metrics to run (empty: all of them) — Argo's ``templateName``
    maps to a metric name so pasted steps keep working.
    """

    templates: tuple[str, ...] = ()
    args: tuple[AnalysisArg, ...] = ()
    count: int | None = None
    interval: float | None = None


Step = SetWeight | Pause | SetCanaryScale | SetHeaderRoute | SetMirrorRoute | AnalysisStep

STEP_KEYS = ("setWeight", "pause", "setCanaryScale", "setHeaderRoute", "setMirrorRoute", "analysis")
_UNSUPPORTED = {
    "experiment": "experiment steps are not supported by canarist",
    "plugin": "plugin steps are not supported by canarist",
}


def parse_steps(raw: Any, path: str, problems: Problems) -> tuple[Step, ...]:
    """Parse the whole list; a mapping ``{steps: [...]}`` pasted from a Rollout is unwrapped."""
    return tuple(step for _, step in parse_steps_indexed(raw, path, problems))


def parse_steps_indexed(raw: Any, path: str, problems: Problems) -> list[tuple[int, Step]]:
    """Like ``parse_steps``, keeping each valid step's index in the user's list."""
    raw = unwrap(raw, path, problems)
    items = sequence(raw, path, problems)
    if items is None:
        return []
    if len(items) > MAX_STEPS:
        problems.add(path, f"has {len(items)} steps; at most {MAX_STEPS} are allowed")
        return []
    parsed = [(i, parse_step(item, index(path, i), problems)) for i, item in enumerate(items)]
    _check_route_names(items, path, problems)
    return [(i, step) for i, step in parsed if step is not None]


def parse_step(raw: Any, path: str, problems: Problems) -> Step | None:
    m = mapping(raw, path, problems)
    if m is None:
        return None
    known = [k for k in m if k in STEP_KEYS]
    for key in m:
        if key in STEP_KEYS:
            continue
        if key in _UNSUPPORTED:
            problems.add(at(path, key), _UNSUPPORTED[key])
            continue
        hint = suggest(key, STEP_KEYS)
        did_you_mean = f" (did you mean {show(hint)}?)" if hint else ""
        problems.add(
            at(path, key),
            f"unknown step {show(key)}{did_you_mean}; allowed: {', '.join(STEP_KEYS)}",
        )
    if len(known) > 1:
        problems.add(path, f"a step must have exactly one action, got {', '.join(known)}")
        return None
    if not known:
        if not m:
            problems.add(path, f"empty step; use one of {', '.join(STEP_KEYS)}")
        return None
    key = known[0]
    return _PARSERS[key](m[key], at(path, key), problems)


def _set_weight(raw: Any, path: str, problems: Problems) -> Step | None:
    weight = integer(raw, path, problems, low=0, high=100)
    return None if weight is None else SetWeight(weight)


def _pause(raw: Any, path: str, problems: Problems) -> Step | None:
    if raw is None:  # "- pause:" with nothing after it reads as null: an indefinite pause
        return Pause()
    m = keyed(raw, ("duration",), path, problems)
    if m is None:
        return None
    if "duration" not in m:
        return Pause()
    seconds = parse_duration(m["duration"], at(path, "duration"), problems)
    return None if seconds is None else Pause(seconds)


def _set_canary_scale(raw: Any, path: str, problems: Problems) -> Step | None:
    keys = ("replicas", "weight", "matchTrafficWeight")
    m = keyed(raw, keys, path, problems)
    if m is None:
        return None
    key = exactly_one(m, keys, path, problems)
    if key is None:
        return None
    if key == "replicas":
        replicas = integer(m[key], at(path, key), problems, low=0)
        return None if replicas is None else SetCanaryScale(replicas=replicas)
    if key == "weight":
        weight = integer(m[key], at(path, key), problems, low=0, high=100)
        return None if weight is None else SetCanaryScale(weight=weight)
    flag = boolean(m[key], at(path, key), problems)
    if flag is False:
        problems.add(at(path, key), "must be true (omit setCanaryScale to keep the scale)")
    return SetCanaryScale(match_traffic_weight=True) if flag else None


def _route_name(m: Any, path: str, problems: Problems) -> str | None:
    if not required(m, ("name",), path, problems):
        return None
    name = string(m["name"], at(path, "name"), problems)
    if name is not None and not _ROUTE_NAME.match(name):
        problems.add(
            at(path, "name"),
            f"invalid route name {show(name)}: lowercase letters, digits and '-', at most 63, "
            "starting and ending with a letter or digit",
        )
        return None
    return name


def _set_header_route(raw: Any, path: str, problems: Problems) -> Step | None:
    m = keyed(raw, ("name", "match"), path, problems)
    if m is None:
        return None
    before = len(problems)
    name = _route_name(m, path, problems)
    matches = parse_header_matches(m["match"], at(path, "match"), problems) if "match" in m else ()
    if name is None or len(problems) != before:
        return None
    return SetHeaderRoute(name, matches)


def _set_mirror_route(raw: Any, path: str, problems: Problems) -> Step | None:
    m = keyed(raw, ("name", "percentage", "match"), path, problems)
    if m is None:
        return None
    name = _route_name(m, path, problems)
    fields = parse_mirror_fields(m, path, problems)
    if name is None or fields is None:
        return None
    return SetMirrorRoute(name, *fields)


def _analysis(raw: Any, path: str, problems: Problems) -> Step | None:
    if raw is None:
        return AnalysisStep()
    m = keyed(raw, ("templates", "args", "count", "interval"), path, problems)
    if m is None:
        return None
    before = len(problems)
    templates = _templates(m.get("templates", []), at(path, "templates"), problems)
    args = _args(m.get("args", []), at(path, "args"), problems)
    count = integer(m["count"], at(path, "count"), problems, low=1) if "count" in m else None
    interval = (
        parse_duration(m["interval"], at(path, "interval"), problems) if "interval" in m else None
    )
    if len(problems) != before:
        return None
    return AnalysisStep(templates, args, count, interval)


def _templates(raw: Any, path: str, problems: Problems) -> tuple[str, ...]:
    names: list[str] = []
    for ipath, m in keyed_items(raw, ("templateName", "clusterScope"), path, problems):
        if "clusterScope" in m:
            problems.add(
                at(ipath, "clusterScope"),
                "cluster analysis templates are not supported; name a metric of "
                "canarist.io/analysis",
            )
        if not required(m, ("templateName",), ipath, problems):
            continue
        name = string(m["templateName"], at(ipath, "templateName"), problems)
        if name is not None:
            names.append(name)
    return tuple(names)


def _args(raw: Any, path: str, problems: Problems) -> tuple[AnalysisArg, ...]:
    args: list[AnalysisArg] = []
    for ipath, m in keyed_items(raw, ("name", "value"), path, problems):
        if "valueFrom" in m:
            continue  # reported by check_keys: canarist passes literal values only
        name = string(m.get("name"), at(ipath, "name"), problems)
        value = string(m.get("value"), at(ipath, "value"), problems, nonempty=False)
        if name is not None and value is not None:
            args.append(AnalysisArg(name, value))
    return tuple(args)


_PARSERS = {
    "setWeight": _set_weight,
    "pause": _pause,
    "setCanaryScale": _set_canary_scale,
    "setHeaderRoute": _set_header_route,
    "setMirrorRoute": _set_mirror_route,
    "analysis": _analysis,
}


def _check_route_names(raw: list[Any], path: str, problems: Problems) -> None:
    """A route name is either a header route or a mirror route, never both."""
    kinds: dict[str, str] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (key,) = item
        value = item[key]
        if key not in ("setHeaderRoute", "setMirrorRoute") or not isinstance(value, dict):
            continue
        name = value.get("name")
        if not isinstance(name, str):
            continue
        if kinds.setdefault(name, key) != key:
            problems.add(
                at(at(index(path, i), key), "name"),
                f"route {show(name)} is already used by a {kinds[name]} step; "
                "header and mirror routes need distinct names",
            )


def weight_steps(steps: tuple[Step, ...]) -> list[int]:
    """The setWeight values in order (used for defaults and summaries)."""
    return [s.weight for s in steps if isinstance(s, SetWeight)]


def weight_at(steps: tuple[Step, ...], i: int) -> int:
    """The traffic weight at step ``i``: the last ``setWeight`` at or before it (0: none)."""
    for step in reversed(steps[: i + 1]):
        if isinstance(step, SetWeight):
            return step.weight
    return 0


def describe_step(step: Step) -> str:
    """A short text for Events and messages: ``setWeight 20``, ``pause 30s``, ``pause``."""
    if isinstance(step, SetWeight):
        return f"setWeight {step.weight}"
    if isinstance(step, Pause):
        return "pause" if step.duration is None else f"pause {format_duration(step.duration)}"
    if isinstance(step, SetCanaryScale):
        if step.replicas is not None:
            return f"setCanaryScale replicas {step.replicas}"
        if step.weight is not None:
            return f"setCanaryScale weight {step.weight}"
        return "setCanaryScale matchTrafficWeight"
    if isinstance(step, SetHeaderRoute):
        return f"setHeaderRoute {step.name}" + ("" if step.matches else " (remove)")
    if isinstance(step, SetMirrorRoute):
        return f"setMirrorRoute {step.name}" + ("" if step.matches else " (remove)")
    assert isinstance(step, AnalysisStep)
    names = ", ".join(step.templates) or "all metrics"
    return f"analysis ({names})"
