"""``canarist validate -f FILE``: check the canarist annotations of Deployments offline.

Argo Rollouts objects in a file (a Rollout pasted whole, its AnalysisTemplates) are named as
such, with what to do instead, by ``validate``, ``render`` and ``mutate`` (``argo_message``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from webhook.errors import ConfigError, Problem, SpecError
from webhook.spec import boundedyaml, names
from webhook.spec.canary import parse_canary_spec
from webhook.spec.hashing import template_hash
from webhook.spec.problems import show


@dataclass(frozen=True)
class Report:
    ok: bool
    text: str


def load_documents(text: str, source: str = "input") -> list[dict[str, Any]]:
    """Every object in a multi-document YAML/JSON text (``List`` kinds are flattened)."""
    try:
        docs = boundedyaml.load_all(text)
    except yaml.YAMLError as exc:
        where, message = boundedyaml.describe(exc)
        raise ConfigError(f"{source}{where}: YAML {message}") from None
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: document {i + 1} is not an object")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
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
        raw_meta = obj.get("metadata")
        name = raw_meta.get("name") if isinstance(raw_meta, dict) else None
        name = name if isinstance(name, str) else "?"
        try:
            meta = _map(obj, "metadata")
            if _map(meta, "labels", "metadata").get(names.ENABLED_LABEL) != "true":
                lines.append(f'{name}: not opted in (label {names.ENABLED_LABEL}: "true" missing)')
                continue
            annotations = _map(meta, "annotations", "metadata")
            parsed = parse_canary_spec(annotations, deployment=name)
            template = _map(_map(obj, "spec"), "template", "spec")
            digest = template_hash(template)
        except SpecError as exc:
            ok = False
            lines.append(f"{name}: invalid\n" + "\n".join(f"  {p}" for p in exc.problems))
            continue
        except RecursionError:
            ok = False
            lines.append(f"{name}: invalid\n  spec.template: nested too deeply to be hashed")
            continue
        spec = parsed.spec
        lines.append(
            f"{name}: ok ({len(spec.steps)} steps, router {','.join(spec.routers)}, "
            f"template hash {digest})"
        )
        lines.extend(f"  warning: {w}" for w in parsed.warnings)
    lines.extend(f"warning: {source}: {m}" for m in argo)
    return Report(ok, "\n".join(lines) + "\n")


def _map(parent: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
    """``parent[key]`` when it is a mapping, ``{}`` when absent; ``SpecError`` otherwise."""
    value = parent.get(key)
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    where = f"{path}.{key}" if path else key
    raise SpecError([Problem(where, f"must be a mapping, got {show(value)}")])
