"""Decoding built-in objects as kube-apiserver's typed JSON decoder does.

The field names and types come from the official client's models (``openapi_types`` and
``attribute_map``, generated from the same OpenAPI as the Go types). ``decode`` walks an
object and reports what the Go decoder would:
- a value of the wrong JSON type -> a decode error (400 BadRequest upstream, e.g.
  ``json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
  int32``);
- unknown fields -> dropped (``fieldValidation=Ignore``), warned about (``Warn``, kubectl's
  default when it validates client-side) or a 400 ``strict decoding error`` (``Strict``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")
# Quantity maps are typed Dict[str, str] in the client; the Go Quantity also takes numbers.
_QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "hard", "used", "overhead"}
_GO_TYPES = {"int": "int32", "float": "float64", "bool": "bool", "str": "string",
             "datetime": "Time", "bytes": "[]uint8"}


@dataclass
class DecodeReport:
    type_errors: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def model_for(api_version: str, kind: str) -> str | None:
    """The client model name of a built-in kind (``V1Deployment``, ``CoreV1Event``)."""
    if kind == "Event" and api_version == "v1":
        return "CoreV1Event"
    if kind == "Event" and api_version == "events.k8s.io/v1":
        return "EventsV1Event"
    version = api_version.rpartition("/")[2]
    name = version[:1].upper() + version[1:] + kind
    return name if _fields(name) is not None else None


@cache
def _fields(model: str) -> dict[str, str] | None:
    """JSON field name -> type string of a client model (None if no such model)."""
    from kubernetes.client import models

    cls = getattr(models, model, None)
    if cls is None or not hasattr(cls, "openapi_types"):
        return None
    types: dict[str, str] = cls.openapi_types
    names: dict[str, str] = cls.attribute_map
    return {names[attr]: t for attr, t in types.items()}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def decode(obj: dict[str, Any], model: str, *, prune: bool, report: DecodeReport) -> None:
    """Check ``obj`` against ``model`` in place; ``prune`` drops unknown fields."""
    _walk_model(obj, model, "", prune, report, _struct_name(model))


def _struct_name(model: str) -> str:
    return re.sub(r"^(CoreV1|EventsV1|V\d+(alpha\d+|beta\d+)?)", "", model)


def _walk_model(
    obj: dict[str, Any], model: str, path: str, prune: bool, report: DecodeReport, struct: str
) -> None:
    fields = _fields(model)
    if fields is None:
        return
    for key in list(obj):
        sub = f"{path}.{key}" if path else key
        typ = fields.get(key)
        if typ is None:
            if key in ("apiVersion", "kind") and not path:
                continue
            report.unknown.append(sub)
            if prune:
                del obj[key]
            continue
        value = obj[key]
        if value is None:
            continue
        _walk_value(value, typ, sub, prune, report, struct, key)


def _walk_value(
    value: Any, typ: str, path: str, prune: bool, report: DecodeReport, struct: str, key: str
) -> None:
    m = _LIST.match(typ)
    if m:
        if not isinstance(value, list):
            _mismatch(report, value, f"[]{m.group(1)}", struct, path)
            return
        for i, item in enumerate(value):
            if item is not None:
                _walk_value(item, m.group(1), f"{path}[{i}]", prune, report, struct, key)
        return
    m = _DICT.match(typ)
    if m:
        if not isinstance(value, dict):
            _mismatch(report, value, f"map[string]{m.group(1)}", struct, path)
            return
        inner = m.group(1)
        for k, item in value.items():
            if inner == "str" and key in _QUANTITY_MAPS and _json_type(item) == "number":
                continue
            if item is not None:
                _walk_value(item, inner, f"{path}[{k}]", prune, report, struct, key)
        return
    if typ == "object":
        return
    want = {"int": "number", "float": "number", "bool": "bool", "str": "string",
            "datetime": "string", "bytes": "string"}.get(typ)
    if want is not None:
        got = _json_type(value)
        if got != want or (typ == "int" and isinstance(value, float) and not value.is_integer()):
            _mismatch(report, value, _GO_TYPES[typ], struct, path)
        return
    if not isinstance(value, dict):
        _mismatch(report, value, typ, struct, path)
        return
    _walk_model(value, typ, path, prune, report, _struct_name(typ))


def _mismatch(report: DecodeReport, value: Any, go_type: str, struct: str, path: str) -> None:
    report.type_errors.append(
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {struct}.{path} "
        f"of type {go_type}"
    )
