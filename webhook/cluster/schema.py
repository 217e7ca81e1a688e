"""Structural-schema handling of custom resources, as apiextensions-apiserver does it.

For a CRD version's ``openAPIV3Schema``, in this order: ``prune_and_default`` drops unknown
fields (kept under ``x-kubernetes-preserve-unknown-fields``), drops ``null`` where the schema
is not ``nullable`` and applies ``default``s; ``validate`` then checks types (with
``x-kubernetes-int-or-string``), ``required``, ``enum``, ``format``, bounds, lengths, item
counts, ``pattern`` and ``allOf``/``anyOf``/``oneOf``/``not``. Messages use the kube-openapi
wording (``spec.x in body must be of type integer: "string"``). CEL rules
(``x-kubernetes-validations``) are not evaluated.

``pattern`` is Go's regexp, as upstream's (``webhook.cluster.goregexp``: RE2 syntax, matched in
linear time); ``pattern_causes`` finds the patterns of a CRD's schema Go would refuse, as the
structural-schema validation of a CRD does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import ipaddress
import re
import uuid
from collections.abc import Mapping
from typing import Any

from webhook.cluster import goregexp
from webhook.cluster import status as st
from webhook.cluster.kinds.common import not_supported, required, show
from webhook.cluster.meta import clone
from webhook.cluster.status import Cause

Schema = Mapping[str, Any]
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if v is None:
        return "null"
    return "object"


def _type_ok(v: Any, schema: Schema) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return _json_type(v) in ("integer", "string")
    want = schema.get("type")
    if not want:
        return True
    got = _json_type(v)
    return got == want or (want == "number" and got == "integer")


def _sub(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- pruning and defaulting -------------------------------------------------------------------


def prune_and_default(obj: dict[str, Any], schema: Schema) -> list[str]:
    """Prune unknown fields and apply defaults in place; returns the pruned field paths."""
    pruned: list[str] = []
    _prune(obj, schema, "", pruned, root=True)
    return pruned


def _prune(v: Any, schema: Schema, path: str, pruned: list[str], root: bool = False) -> None:
    if isinstance(v, dict):
        props: Mapping[str, Schema] = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        for key in list(v):
            if root and key in _ROOT_KEEP:
                continue
            sub = props.get(key)
            if sub is None and isinstance(addl, Mapping):
                sub = addl
            if sub is None:
                if not preserve and addl is not True:
                    pruned.append(_sub(path, key))
                    del v[key]
                continue
            if v[key] is None and not sub.get("nullable"):
                del v[key]
                continue
            _prune(v[key], sub, _sub(path, key), pruned)
        for key, sub in props.items():
            if key not in v and "default" in sub and not (root and key in _ROOT_KEEP):
                v[key] = clone(sub["default"])
                _prune(v[key], sub, _sub(path, key), pruned)
    elif isinstance(v, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(v):
                _prune(item, items, f"{path}[{i}]", pruned)


# --- validation -------------------------------------------------------------------------------


def validate(obj: Any, schema: Schema) -> list[Cause]:
    out: list[Cause] = []
    _validate(obj, schema, "", out, root=True)
    return out


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, st.INVALID, f"Invalid value: {show(value)}: {detail}")


def _validate(v: Any, schema: Schema, path: str, out: list[Cause], root: bool = False) -> None:
    if v is None:
        if not schema.get("nullable") and schema.get("type"):
            out.append(_invalid(path, "null", f"{path} in body must be of type "
                                f"{schema['type']}: \"null\""))
        return
    if not _type_ok(v, schema):
        want = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema["type"]
        out.append(_invalid(path, _json_type(v), f"{path} in body must be of type {want}: "
                            f"\"{_json_type(v)}\""))
        return
    enum = schema.get("enum")
    if enum is not None and v not in enum:
        out.append(not_supported(path, v, [e if isinstance(e, str) else show(e) for e in enum]))
    if isinstance(v, str):
        _validate_string(v, schema, path, out)
    elif isinstance(v, int | float) and not isinstance(v, bool):
        _validate_number(v, schema, path, out)
    elif isinstance(v, list):
        _validate_array(v, schema, path, out)
    elif isinstance(v, dict):
        _validate_object(v, schema, path, out, root)
    _validate_combinators(v, schema, path, out)


def _validate_string(v: str, schema: Schema, path: str, out: list[Cause]) -> None:
    if "maxLength" in schema and len(v) > schema["maxLength"]:
        out.append(Cause(path, st.TOO_LONG,
                         f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(v) < schema["minLength"]:
        out.append(_invalid(path, v, f"{path} in body should be at least "
                            f"{schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if pattern and not _pattern_ok(pattern, v):
        out.append(_invalid(path, v, f"{path} in body should match '{pattern}'"))
    fmt = schema.get("format")
    if fmt and not schema.get("x-kubernetes-int-or-string") and not format_ok(fmt, v):
        out.append(_invalid(path, v, f"{path} in body must be of type {fmt}: {show(v)}"))


def _pattern_ok(pattern: Any, v: str) -> bool:
    return not isinstance(pattern, str) or goregexp.matches(pattern, v)


def pattern_causes(schema: Any, path: str) -> list[Cause]:
    """Every ``pattern`` of a CRD version's schema that Go's ``regexp.Compile`` refuses, as
    upstream's structural-schema validation walks it (``items``, ``properties[name]``,
    ``additionalProperties``, ``allOf``/``anyOf``/``oneOf``/``not`` and what they nest), sorted
    as upstream sorts its errors."""
    out: list[Cause] = []
    _patterns(schema, path, out, nested=False)
    return sorted(out, key=lambda c: (c.field, c.message))


def _patterns(schema: Any, path: str, out: list[Cause], nested: bool) -> None:
    if not isinstance(schema, Mapping):
        return
    _patterns(schema.get("items"), f"{path}.items", out, nested)
    for key, sub in (schema.get("properties") or {}).items():
        _patterns(sub, f"{path}.properties[{key}]", out, nested)
    if not nested:
        _patterns(schema.get("additionalProperties"), f"{path}.additionalProperties", out, False)
    for junctor in ("anyOf", "allOf", "oneOf"):
        for i, sub in enumerate(schema.get(junctor) or ()):
            _patterns(sub, f"{path}.{junctor}[{i}]", out, True)
    _patterns(schema.get("not"), f"{path}.not", out, True)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern:
        problem = goregexp.pattern_error(pattern)
        if problem:
            out.append(_invalid(f"{path}.pattern", pattern,
                                f"must be a valid regular expression, but isn't: {problem}"))


def _validate_number(v: float, schema: Schema, path: str, out: list[Cause]) -> None:
    if "maximum" in schema:
        mx = schema["maximum"]
        if v > mx or (schema.get("exclusiveMaximum") and v == mx):
            op = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
            out.append(_invalid(path, v, f"{path} in body should be {op} {show(mx)}"))
    if "minimum" in schema:
        mn = schema["minimum"]
        if v < mn or (schema.get("exclusiveMinimum") and v == mn):
            op = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
            out.append(_invalid(path, v, f"{path} in body should be {op} {show(mn)}"))
    if schema.get("multipleOf") and v % schema["multipleOf"] != 0:
        out.append(_invalid(path, v, f"{path} in body should be a multiple of "
                            f"{show(schema['multipleOf'])}"))
    fmt = schema.get("format")
    if fmt == "int32" and not -(2**31) <= v < 2**31:
        out.append(_invalid(path, v, f"{path} in body must be of type int32: {show(v)}"))


def _validate_array(v: list[Any], schema: Schema, path: str, out: list[Cause]) -> None:
    if "maxItems" in schema and len(v) > schema["maxItems"]:
        out.append(Cause(path, "FieldValueTooMany",
                         f"Too many: {len(v)}: must have at most {schema['maxItems']} items"))
    if "minItems" in schema and len(v) < schema["minItems"]:
        out.append(_invalid(path, v, f"{path} in body should have at least "
                            f"{schema['minItems']} items"))
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(v):
            _validate(item, items, f"{path}[{i}]", out)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type in ("set", "map"):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for i, item in enumerate(v):
            ident = ([item.get(k) for k in keys] if list_type == "map" and isinstance(item, dict)
                     else item)
            if ident in seen:
                out.append(Cause(f"{path}[{i}]", st.DUPLICATE, f"Duplicate value: {show(ident)}"))
            seen.append(ident)


def _validate_object(
    v: dict[str, Any], schema: Schema, path: str, out: list[Cause], root: bool
) -> None:
    for key in schema.get("required") or []:
        if key not in v:
            out.append(required(_sub(path, key)))
    props: Mapping[str, Schema] = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    for key, item in v.items():
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        sub = props.get(key)
        if sub is None and isinstance(addl, Mapping):
            sub = addl
        if sub is not None:
            _validate(item, sub, _sub(path, key), out)
    if "maxProperties" in schema and len(v) > schema["maxProperties"]:
        out.append(Cause(path, "FieldValueTooMany", f"Too many: {len(v)}: must have at most "
                         f"{schema['maxProperties']} items"))
    if "minProperties" in schema and len(v) < schema["minProperties"]:
        out.append(_invalid(path, v, f"{path} in body should have at least "
                            f"{schema['minProperties']} properties"))


def _ok(v: Any, schema: Schema) -> bool:
    probe: list[Cause] = []
    _validate(v, schema, "x", probe)
    return not probe


def _validate_combinators(v: Any, schema: Schema, path: str, out: list[Cause]) -> None:
    name = path or "<root>"
    for sub in schema.get("allOf") or []:
        _validate(v, sub, path, out)
    any_of = schema.get("anyOf")
    if any_of and not any(_ok(v, s) for s in any_of):
        out.append(_invalid(path, v, f"{name} in body must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if one_of and sum(1 for s in one_of if _ok(v, s)) != 1:
        out.append(_invalid(path, v, f"{name} in body must validate one and only one schema "
                            "(oneOf)"))
    not_ = schema.get("not")
    if isinstance(not_, Mapping) and _ok(v, not_):
        out.append(_invalid(path, v, f"{name} in body must not validate the schema (not)"))


# --- formats ----------------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$")
_DURATION = re.compile(r"^([-+]?[0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$")


def format_ok(fmt: str, v: str) -> bool:
    """The string formats apiextensions validates (others are accepted as upstream does)."""
    try:
        if fmt in ("date-time", "datetime"):
            _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        elif fmt == "date":
            _dt.date.fromisoformat(v)
        elif fmt == "ipv4":
            ipaddress.IPv4Address(v)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(v)
        elif fmt == "cidr":
            ipaddress.ip_network(v, strict=False)
        elif fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            uuid.UUID(v)
        elif fmt == "byte":
            base64.b64decode(v, validate=True)
        elif fmt == "hostname":
            return bool(_HOSTNAME.match(v))
        elif fmt == "duration":
            return bool(_DURATION.match(v))
        elif fmt == "uri":
            return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:|^/", v))
    except (ValueError, binascii.Error):
        return False
    return True
