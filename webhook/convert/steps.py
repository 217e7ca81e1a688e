"""A Rollout's canary ``steps`` as ``canarist.io/steps``: verbatim, with these exceptions.

- ``experiment`` and ``plugin`` steps become ``pause: {}`` (reported): the release waits for a
  person where Argo waited for the experiment or the plugin.
- A step with several actions (``setCanaryScale`` and ``setHeaderRoute`` together, as APISIX's
  docs show) becomes one step per action, in Argo's order.
- With ``maxTrafficWeight`` other than 100, weights are rescaled to percent.
- With Istio, a header route whose ``match`` lists several headers becomes one route per header:
  Argo's Istio router ORs the entries, canarist's steps AND them; removing the route removes all.
- ``analysis`` steps are converted with the templates (``analysis.py``); here they are only
  recorded with their index.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.convert.report import Notes
from webhook.spec.problems import Problems, at, index

ACTIONS = ("setCanaryScale", "setWeight", "setHeaderRoute", "setMirrorRoute", "pause",
           "analysis", "experiment", "plugin")
PAUSE: dict[str, Any] = {"pause": {}}
_INSTEAD = {
    "experiment": "run the baseline or candidate as a Deployment of its own and gate the "
                  "release with an analysis step",
    "plugin": "do the plugin's work from an analysis step's web metric, or by hand at the pause",
}


@dataclass
class Steps:
    steps: list[dict[str, Any]] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)  # the Rollout's step index of each step
    analyses: dict[int, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)

    def add(self, step: dict[str, Any], origin: int) -> int:
        self.steps.append(step)
        self.origins.append(origin)
        return len(self.steps) - 1

    def first_at_or_after(self, origin: int) -> int:
        """The output index of the first step that came from Rollout step ``origin`` or later."""
        return next((i for i, o in enumerate(self.origins) if o >= origin), len(self.steps))


@dataclass
class _Ctx:
    notes: Notes
    subject: str
    problems: Problems
    max_weight: int
    split_headers: bool
    route_names: set[str]
    header_splits: dict[str, list[str]] = field(default_factory=dict)


def convert_steps(raw: Any, path: str, *, max_weight: int, split_headers: bool,
                  notes: Notes, subject: str, problems: Problems) -> Steps:
    out = Steps()
    if raw is None:
        notes.converted(subject, path, "no steps: canarist.io/steps: [] (straight to full "
                        "promotion, as Argo)")
        return out
    if not isinstance(raw, list):
        problems.add(path, f"must be a list, got {type(raw).__name__}")
        return out
    names = {str((s.get(k) or {}).get("name")) for s in raw if isinstance(s, dict)
             for k in ("setHeaderRoute", "setMirrorRoute") if isinstance(s.get(k), dict)}
    ctx = _Ctx(notes, subject, problems, max_weight, split_headers, names)
    for i, step in enumerate(raw):
        _step(step, index(path, i), i, ctx, out)
    return out


def _step(raw: Any, path: str, i: int, ctx: _Ctx, out: Steps) -> None:
    if not isinstance(raw, dict) or not raw:
        ctx.problems.add(path, "must be a mapping with one action (setWeight, pause, ...)")
        return
    for key in raw:
        if key not in ACTIONS:
            ctx.notes.refused(ctx.subject, at(path, key), f"unknown step action {key!r} is left "
                              "out (Argo's API server drops unknown fields too)")
    actions = [k for k in ACTIONS if k in raw]
    if len(actions) > 1:
        ctx.notes.changed(ctx.subject, path, "one step per action: " + ", ".join(actions))
    for key in actions:
        value = raw[key]
        kpath = at(path, key)
        if key in _INSTEAD:
            ctx.notes.refused(ctx.subject, kpath, f"canarist has no {key} steps; the step "
                              "becomes pause: {}, so the release waits for `canarist promote`",
                              _INSTEAD[key])
            out.add(dict(PAUSE), i)
        elif key == "analysis":
            if not isinstance(value, dict):
                ctx.problems.add(kpath, "must be a mapping with templates")
                continue
            out.analyses[out.add({"analysis": {}}, i)] = (kpath, value)
        elif key == "pause":
            out.add({"pause": {} if value is None else copy.deepcopy(value)}, i)
            ctx.notes.converted(ctx.subject, kpath, "verbatim")
        elif key in ("setWeight", "setCanaryScale"):
            out.add({key: _weight(key, value, kpath, ctx)}, i)
        elif key == "setHeaderRoute" and ctx.split_headers:
            _header_route(value, kpath, i, ctx, out)
        else:
            out.add({key: copy.deepcopy(value)}, i)
            ctx.notes.converted(ctx.subject, kpath, "verbatim")


def _weight(key: str, value: Any, path: str, ctx: _Ctx) -> Any:
    """The weight in percent (``maxTrafficWeight`` rescaled), the rest verbatim."""
    scaled = copy.deepcopy(value)
    if ctx.max_weight == 100:
        ctx.notes.converted(ctx.subject, path, "verbatim")
        return scaled
    if key == "setWeight" and isinstance(value, int) and not isinstance(value, bool):
        scaled = _percent(value, ctx, path)
    elif key == "setCanaryScale" and isinstance(value, dict) and isinstance(
            value.get("weight"), int) and not isinstance(value.get("weight"), bool):
        scaled["weight"] = _percent(value["weight"], ctx, at(path, "weight"))
    else:
        ctx.notes.converted(ctx.subject, path, "verbatim")
    return scaled


def _percent(weight: int, ctx: _Ctx, path: str) -> int:
    percent = round(weight * 100 / ctx.max_weight)
    exact = percent * ctx.max_weight == weight * 100
    ctx.notes.changed(ctx.subject, path, f"{weight} of maxTrafficWeight {ctx.max_weight} is "
                      f"{percent}%" + ("" if exact else " (rounded)"))
    return percent


def _header_route(value: Any, path: str, i: int, ctx: _Ctx, out: Steps) -> None:
    """Istio: one route per match entry (Argo ORs them); a removal removes every split."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        out.add({"setHeaderRoute": copy.deepcopy(value)}, i)
        return
    name = value["name"]
    matches = value.get("match")
    before = ctx.header_splits.get(name, [])
    if not isinstance(matches, list) or len(matches) <= 1:
        out.add({"setHeaderRoute": copy.deepcopy(value)}, i)
        for extra in before:
            out.add({"setHeaderRoute": {"name": extra}}, i)
        ctx.header_splits[name] = []
        ctx.notes.converted(ctx.subject, path, "verbatim")
        return
    names = [name, *before]
    while len(names) < len(matches):
        names.append(_fresh(name, ctx.route_names))
    for route, match in zip(names, matches, strict=False):
        out.add({"setHeaderRoute": {"name": route, "match": [copy.deepcopy(match)]}}, i)
    for extra in names[len(matches):]:
        out.add({"setHeaderRoute": {"name": extra}}, i)
    ctx.header_splits[name] = names[1:len(matches)]
    ctx.notes.changed(ctx.subject, path, f"Argo's Istio router matches any of the {len(matches)} "
                      "entries, canarist's steps all of them: one route per entry ("
                      + ", ".join(names[:len(matches)]) + ")")


def _fresh(base: str, taken: set[str]) -> str:
    n = 2
    while True:
        name = f"{base[:58]}-{n}"
        if name not in taken:
            taken.add(name)
            return name
        n += 1
