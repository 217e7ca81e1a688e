"""``canarist validate -f FILE``: check the canarist annotations of Deployments offline."""

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


def validate_file(text: str, source: str = "input") -> Report:
    lines: list[str] = []
    ok = True
    deployments = [o for o in load_documents(text, source) if o.get("kind") == "Deployment"]
    if not deployments:
        return Report(False, f"{source}: no Deployment found\n")
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
    return Report(ok, "\n".join(lines) + "\n")
