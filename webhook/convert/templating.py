"""AnalysisTemplate ``args``: their values, resolved once at conversion, put into the metrics.

canarist has no argument templating: a converted metric carries its final query. A value comes
from the Rollout's ``args`` (``value``, or ``valueFrom.fieldRef`` read from the Rollout as
written), else from the template's default. What only exists at run time — a pod-template hash
(``podTemplateHashValue``), the Rollout's ``status``, a Secret (``secretKeyRef``) — cannot be
resolved, and a metric that uses it is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]{1,253})\s*\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{[^{}]{0,300}\}\}")
_SEGMENT = re.compile(r"\.?([A-Za-z0-9_-]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")


@dataclass(frozen=True)
class Arg:
    """A resolved value, or why there is none (``problem``) and what to do instead."""

    value: str | None
    problem: str = ""
    instead: str = ""
    note: str = ""  # how it was resolved, when the user should know


def template_args(raw: Any) -> dict[str, Arg]:
    """The defaults declared by a template's ``spec.args`` (malformed entries are skipped:
    the caller reports the template's shape)."""
    out: dict[str, Arg] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        value_from = item.get("valueFrom")
        if isinstance(value_from, dict) and "secretKeyRef" in value_from:
            out[name] = Arg(None, f"arg {name!r} is read from a Secret (secretKeyRef)",
                            "write the value into the metric, or for Datadog keys use "
                            "provider.datadog.secretRef")
        elif "value" in item and item["value"] is not None:
            out[name] = Arg(_text(item["value"]))
        else:
            out[name] = Arg(None, f"arg {name!r} has no value",
                            "give it a value in the Rollout's args")
    return out


def rollout_args(raw: Any, rollout: Mapping[str, Any]) -> dict[str, Arg]:
    """The values a Rollout passes (``analysis.args`` or a step's ``analysis.args``)."""
    out: dict[str, Arg] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        value_from = item.get("valueFrom")
        if "value" in item and item["value"] is not None:
            out[name] = Arg(_text(item["value"]))
        elif isinstance(value_from, dict) and "podTemplateHashValue" in value_from:
            which = str(value_from["podTemplateHashValue"])
            out[name] = Arg(
                None,
                f"arg {name!r} is the {which} pod-template hash, known only during a release; "
                "canarist has no placeholder for it",
                "select the pods another way: the canary's are those of Deployment "
                "<name>-canary (e.g. pod=~\"<name>-canary-.*\")",
            )
        elif isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            out[name] = _field_ref(name, str(value_from["fieldRef"].get("fieldPath", "")),
                                   rollout)
        else:
            out[name] = Arg(None, f"arg {name!r} has no value", "give it a value")
    return out


def _field_ref(name: str, path: str, rollout: Mapping[str, Any]) -> Arg:
    if path.startswith("status"):
        return Arg(None, f"arg {name!r} reads {path}, which Argo Rollouts writes at run time",
                   "write the value into the metric")
    value: Any = rollout
    for segment in _segments(path):
        value = value.get(segment) if isinstance(value, dict) else None
    if path == "metadata.namespace" and value is None:
        return Arg(None, f"arg {name!r} reads metadata.namespace, and the Rollout in the input "
                   "has none", "set metadata.namespace on the Rollout before converting")
    if value is None or isinstance(value, dict | list):
        return Arg(None, f"arg {name!r} reads {path}, which the Rollout in the input does not "
                   "have as a value", "write the value into the metric")
    text = _text(value)
    if path in ("metadata.name", "metadata.namespace"):
        return Arg(text)  # the Deployment keeps the Rollout's name and namespace
    return Arg(text, note=f"arg {name!r} from {path} is fixed at conversion to {text!r}")


def _segments(path: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None or m.end() == pos:
            return ["\0"]  # matches nothing: reported as a missing value
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Filled:
    value: Any
    problems: tuple[Arg, ...] = ()  # args used but not resolvable
    notes: tuple[str, ...] = ()


def fill(raw: Any, args: Mapping[str, Arg]) -> Filled:
    """``raw`` with every ``{{args.NAME}}`` replaced; unresolved ones are listed."""
    problems: dict[str, Arg] = {}
    notes: dict[str, str] = {}

    def one(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            arg = args.get(name) or Arg(None, f"arg {name!r} is not declared by the template",
                                        "declare it in the template's args")
            if arg.value is None:
                problems[name] = arg
                return m.group(0)
            if arg.note:
                notes[name] = arg.note
            return arg.value

        out = _PLACEHOLDER.sub(repl, text)
        other = _ANY_PLACEHOLDER.search(_PLACEHOLDER.sub("", out))
        if other and not problems:
            problems[other.group(0)] = Arg(None, f"{other.group(0)} is not an argument canarist "
                                           "can resolve", "write the value into the metric")
        return out

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return one(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    filled = walk(raw)
    return Filled(filled, tuple(problems.values()), tuple(notes.values()))
