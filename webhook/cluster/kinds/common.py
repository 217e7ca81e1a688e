"""Field errors in apimachinery's wording, and the ObjectMeta rules every kind shares."""

from __future__ import annotations

import json
import re
from typing import Any

from webhook.cluster import status as st
from webhook.cluster.status import Cause
from webhook.spec.labels import label_key_problem, label_value_problem

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    r"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
ANNOTATIONS_MAX = 256 * 1024


def show(value: Any) -> str:
    """A value as field errors print it (Go %#v-like: strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def required(field: str, detail: str = "") -> Cause:
    return Cause(field, st.REQUIRED, "Required value" + (f": {detail}" if detail else ""))


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, st.INVALID, f"Invalid value: {show(value)}: {detail}")


def forbidden(field: str, detail: str) -> Cause:
    return Cause(field, st.FORBIDDEN, f"Forbidden: {detail}")


def not_supported(field: str, value: Any, allowed: list[str]) -> Cause:
    opts = ", ".join(json.dumps(a) for a in allowed)
    return Cause(
        field, st.NOT_SUPPORTED, f"Unsupported value: {show(value)}: supported values: {opts}"
    )


def duplicate(field: str, value: Any) -> Cause:
    return Cause(field, st.DUPLICATE, f"Duplicate value: {show(value)}")


def type_invalid(field: str, value: Any, want: str) -> Cause:
    return Cause(field, st.TYPE_INVALID, f"Invalid value: {show(value)}: must be of type {want}")


def immutable(field: str, value: Any) -> Cause:
    return invalid(field, value, "field is immutable")


def name_problems(field: str, name: str, rule: str) -> list[Cause]:
    if rule == "path":
        if name in (".", ".."):
            return [invalid(field, name, f"may not be '{name}'")]
        for bad in ("/", "%"):
            if bad in name:
                return [invalid(field, name, f"may not contain '{bad}'")]
        return []
    pattern, msg, limit = {
        "subdomain": (DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, 253),
        "label": (DNS1123_LABEL, LABEL_MSG, 63),
        "dns1035": (DNS1035_LABEL, DNS1035_MSG, 63),
    }[rule]
    out = []
    if len(name) > limit:
        out.append(invalid(field, name, f"must be no more than {limit} characters"))
    if not pattern.match(name):
        out.append(invalid(field, name, msg))
    return out


def validate_labels(field: str, labels: Any) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [type_invalid(field, labels, "object")]
    out = []
    for k, v in labels.items():
        kp = label_key_problem(k)
        if kp:
            out.append(invalid(field, k, kp))
        if not isinstance(v, str):
            out.append(type_invalid(f"{field}[{k}]", v, "string"))
            continue
        vp = label_value_problem(v)
        if vp:
            out.append(invalid(field, v, vp))
    return out


def validate_annotations(field: str, annotations: Any) -> list[Cause]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [type_invalid(field, annotations, "object")]
    out = []
    size = 0
    for k, v in annotations.items():
        kp = label_key_problem(k.lower())
        if kp:
            out.append(invalid(field, k, kp))
        if not isinstance(v, str):
            out.append(type_invalid(f"{field}[{k}]", v, "string"))
            continue
        size += len(k) + len(v.encode())
    if size > ANNOTATIONS_MAX:
        out.append(
            Cause(field, st.TOO_LONG, f"Too long: must have at most {ANNOTATIONS_MAX} bytes")
        )
    return out


def validate_owner_refs(field: str, refs: Any) -> list[Cause]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [type_invalid(field, refs, "array")]
    out = []
    controllers = []
    for i, ref in enumerate(refs):
        p = f"{field}[{i}]"
        if not isinstance(ref, dict):
            out.append(type_invalid(p, ref, "object"))
            continue
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                out.append(required(f"{p}.{key}", f"{key} must not be empty"))
        if ref.get("controller") is True:
            controllers.append(str(ref.get("name")))
    if len(controllers) > 1:
        out.append(invalid(field, refs, "Only one reference can have Controller set to true. "
                           f"Found \"true\" in references for {' and '.join(controllers)}"))
    return out


def validate_object_meta(obj: dict[str, Any], namespaced: bool, name_rule: str) -> list[Cause]:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        return [required("metadata")]
    out: list[Cause] = []
    name = md.get("name")
    if not name:
        out.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        out.append(type_invalid("metadata.name", name, "string"))
    else:
        out += name_problems("metadata.name", name, name_rule)
    ns = md.get("namespace")
    if namespaced and not ns:
        out.append(required("metadata.namespace"))
    if not namespaced and ns:
        out.append(forbidden("metadata.namespace", "not allowed on this type"))
    out += validate_labels("metadata.labels", md.get("labels"))
    out += validate_annotations("metadata.annotations", md.get("annotations"))
    out += validate_owner_refs("metadata.ownerReferences", md.get("ownerReferences"))
    fins = md.get("finalizers")
    if fins is not None and not (isinstance(fins, list) and all(isinstance(f, str) for f in fins)):
        out.append(type_invalid("metadata.finalizers", fins, "array of strings"))
    return out


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    md, old_md = new.get("metadata", {}), old.get("metadata", {})
    out = []
    if (md.get("namespace") or "") != (old_md.get("namespace") or ""):
        out.append(immutable("metadata.namespace", md.get("namespace")))
    if old_md.get("deletionTimestamp"):
        added = [f for f in md.get("finalizers") or [] if f not in (old_md.get("finalizers") or [])]
        if added:
            out.append(forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {show(added)}",
            ))
    return out


def int_or_percent(value: Any) -> tuple[int, bool] | None:
    """``3`` -> (3, False); ``"25%"`` -> (25, True); anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value, False
    if isinstance(value, str) and re.fullmatch(r"\d+%", value):
        return int(value[:-1]), True
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return None  # a bare numeric string is not a valid IntOrString percentage
    return None
