"""Small readers of the review's objects: a nested mapping (or ``BadReview`` naming its path),
the pod template, a string, a template label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.admission.review import JSONObject, bad_review
from webhook.spec.problems import json_type


def obj_map(parent: Mapping[str, Any], key: str, path: str) -> JSONObject | None:
    value = parent.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise bad_review(f"{path}.{key}", f"must be an object or null, got {json_type(value)}")


def template_of(spec: Mapping[str, Any], path: str) -> JSONObject | None:
    """``spec.template``, checked down to its labels (the part the hash reads specially)."""
    template = obj_map(spec, "template", path)
    if template is not None:
        meta = obj_map(template, "metadata", f"{path}.template")
        if meta is not None:
            obj_map(meta, "labels", f"{path}.template.metadata")
    return template


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def label_of(template: Mapping[str, Any] | None, key: str) -> str:
    meta = (template or {}).get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    value = labels.get(key) if isinstance(labels, dict) else None
    return value if isinstance(value, str) else ""
