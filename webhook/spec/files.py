"""``canarist validate -f FILE``: check the canarist annotations of Deployments offline.

Argo Rollouts objects in a file (a Rollout pasted whole, its AnalysisTemplates) are named as
such, with what to do instead, by ``validate``, ``render`` and ``mutate`` (``argo_message``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from webhook.errors import ConfigError, SpecError
from webhook.spec import names
from webhook.spec.canary import parse_canary_spec
from webhook.spec.hashing import template_hash


@dataclass(frozen=True)
class Report:
    ok: bool
    text: str


def load_documents(text: str, source: str = "input") -> list[dict[str, Any]]:
    """Every object in a multi-document YAML/JSON text (``List`` kinds are flattened)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}: YAML does not parse{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML does not parse: {exc}") from exc
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: document {i + 1} is not an object")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            objects.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            objects.append(doc)
    return objects


ARGO_GROUP = "argoproj.io/"


def argo_message(obj: Any, source: str = "input") -> str | None:
    """What to do with an Argo Rollouts object of file ``source`` found where a Deployment was
    expected (the text starts with the object, not the file)."""
    if not isinstance(obj, dict) or not str(obj.get("apiVersion", "")).startswith(ARGO_GROUP):
        return None
    kind = str(obj.get("kind", "object"))
    name = str((obj.get("metadata") or {}).get("name", "?"))
    head = f"{kind} {name} is an Argo Rollouts object ({obj['apiVersion']})"
    convert = f"canarist convert -f {source if source not in ('input', '-') else 'FILE'}"
    if kind == "Rollout":
        return (
            f"{head}, not a Deployment: canarist releases plain Deployments. Turn it into an "
            f"annotated Deployment with `{convert}` (its steps, traffic routing and analysis "
            "become canarist.io/ annotations; docs/release.md lists what differs), then check "
            "that"
        )
    if kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
        return (
            f"{head}: its metrics belong in the Deployment's canarist.io/analysis annotation "
            f"(`{convert}` moves them there with the Rollout; docs/analysis.md)"
        )
    return f"{head}: canarist does not read it"


def argo_in(data: bytes, source: str) -> str | None:
    """The advice for the first Argo Rollouts object of a file (JSON or YAML), if it holds one:
    for a command given such a file instead of what it reads."""
    if len(data) > 1 << 20:
        return None
    try:
        objects = load_documents(data.decode("utf-8"), source)
    except (ConfigError, UnicodeDecodeError):
        return None
    return next((m for m in (argo_message(o, source) for o in objects) if m), None)


def validate_file(text: str, source: str = "input") -> Report:
    lines: list[str] = []
    ok = True
    objects = load_documents(text, source)
    argo = [m for m in (argo_message(o, source) for o in objects) if m]
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    if not deployments:
        found = [f"{source}: {m}" for m in argo] or [f"{source}: no Deployment found"]
        return Report(False, "\n".join(found) + "\n")
    for obj in deployments:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", "?"))
        labels = meta.get("labels") or {}
        if labels.get(names.ENABLED_LABEL) != "true":
            lines.append(f'{name}: not opted in (label {names.ENABLED_LABEL}: "true" missing)')
            continue
        try:
            parsed = parse_canary_spec(meta.get("annotations"), deployment=name)
        except SpecError as exc:
            ok = False
            lines.append(f"{name}: invalid\n" + "\n".join(f"  {p}" for p in exc.problems))
            continue
        spec = parsed.spec
        digest = template_hash((obj.get("spec") or {}).get("template"))
        lines.append(
            f"{name}: ok ({len(spec.steps)} steps, router {','.join(spec.routers)}, "
            f"template hash {digest})"
        )
        lines.extend(f"  warning: {w}" for w in parsed.warnings)
    lines.extend(f"warning: {source}: {m}" for m in argo)
    return Report(ok, "\n".join(lines) + "\n")
