"""``canarist validate -f FILE``: check the canarist annotations of Deployments offline."""

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


def validate_file(text: str, source: str = "input") -> Report:
    lines: list[str] = []
    ok = True
    deployments = [o for o in load_documents(text, source) if o.get("kind") == "Deployment"]
    if not deployments:
        return Report(False, f"{source}: no Deployment found\n")
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
