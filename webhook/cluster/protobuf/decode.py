"""A Kubernetes protobuf body -> the dict its JSON form would be.

The body is the magic ``k8s\\x00`` then a ``runtime.Unknown``: the object's apiVersion and kind,
and the bytes of the typed message. Field numbers and types come from ``schema.json`` (the
descriptors client-go itself registers; ``scripts/gen_protobuf_schema.py`` regenerates it).

The result is what encoding/json would print for the Go object client-go encoded: scalar fields
at their zero value and empty lists and maps are left out (the encoder always writes non-pointer
fields; their JSON tags say ``omitempty``), except Go pointer fields, whose zero was set on
purpose (``replicas: 0``); nested structs stay, empty, as ``{}``; the apimachinery types take
their JSON shapes (Time as RFC 3339, IntOrString as a number or a string, Quantity as a string,
FieldsV1 as its raw JSON). An embedded Go struct (``json:",inline"``: a probe's handler, a
volume's source, an Ingress rule's value, a key selector's ``LocalObjectReference``) is a
message of its own in protobuf and prints its fields in the parent object. A field the schema
does not know is refused rather than dropped.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from functools import cache
from importlib import resources
from typing import Any

from webhook.cluster.protobuf.wire import LEN, VARINT, iter_fields, read_varint, signed
from webhook.errors import WireFormatError

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME, _MICROTIME = _META + "Time", _META + "MicroTime"
_FIELDS_V1 = _META + "FieldsV1"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_DELETE_OPTIONS = _META + "DeleteOptions"
_MAX_DEPTH = 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FIRST_SECOND, _LAST_SECOND = -62135596800, 253402300799  # 0001-01-01, 9999-12-31T23:59:59

# [json name, type, message | [key type, value type, value message], repeated, keep zero,
#  inline]
Field = list[Any]
Table = dict[str, Field]


@cache
def schema() -> dict[str, Any]:
    """schema.json: the kinds and the field tables of their messages."""
    text = resources.files(__package__).joinpath("schema.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def _fail(path: str, message: str) -> WireFormatError:
    return WireFormatError(message, subject=path or "protobuf body")


def message_for(api_version: str, kind: str) -> str | None:
    """The message of ``kind`` in ``api_version``; DeleteOptions is valid in every version."""
    if kind == "DeleteOptions":
        return _DELETE_OPTIONS
    name: str | None = schema()["kinds"].get(f"{api_version}/{kind}")
    return name


def decode_object(raw: bytes) -> dict[str, Any]:
    """The object (apiVersion and kind first) a protobuf request body carries."""
    if not raw.startswith(MAGIC):
        raise _fail("", f"a {PROTOBUF} body starts with the bytes 'k8s\\x00'")
    api_version = kind = encoding = ""
    payload = b""
    for num, _, value in iter_fields(raw[len(MAGIC):], "runtime.Unknown"):
        if num == 1 and isinstance(value, bytes):
            for n, _, v in iter_fields(value, "runtime.Unknown.typeMeta"):
                if n in (1, 2) and isinstance(v, bytes):
                    text = _text(v, "typeMeta")
                    api_version, kind = (text, kind) if n == 1 else (api_version, text)
        elif num == 2 and isinstance(value, bytes):
            payload = value
        elif num == 3 and isinstance(value, bytes):
            encoding = _text(value, "contentEncoding")
    if encoding:
        raise _fail("contentEncoding", f'"{encoding}" is not supported (none is)')
    if not api_version or not kind:
        raise _fail("typeMeta", "the body names no apiVersion and kind")
    name = message_for(api_version, kind)
    if name is None:
        served = ", ".join(sorted(schema()["kinds"]))
        raise _fail("typeMeta", f'{api_version}/{kind} cannot be sent as protobuf here '
                    f"(kinds that can: {served}); send it as JSON")
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(_message(payload, name, kind, 0))
    return obj


def _text(value: bytes, path: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise _fail(path, f"a string field is not valid UTF-8 ({exc.reason})") from exc


def _message(buf: bytes, name: str, path: str, depth: int) -> Any:
    """A decoded message: a dict, or the JSON value of an apimachinery special type."""
    if depth > _MAX_DEPTH:
        raise _fail(path, f"nested deeper than {_MAX_DEPTH} messages")
    table: Table = schema()["messages"][name]
    out: dict[str, Any] = {}
    for num, wire, value in iter_fields(buf, path):
        field = table.get(str(num))
        if field is None:
            short = name.rsplit(".", 1)[1]
            raise _fail(path, f"field number {num} of {short} is not in this cluster's "
                        f"schema ({schema()['source']}); send the object as JSON")
        json_name, ftype, ref, repeated, keep_zero, inline = field
        where = f"{path}.{json_name}"
        if inline:  # an embedded struct: its fields are this object's
            embedded = _value(wire, value, ftype, ref, path, depth)
            if isinstance(embedded, dict):
                _merge(out, embedded)
        elif ftype == "map":
            entry = _map_entry(value, ref, where, depth)
            out.setdefault(json_name, {}).update([entry])
        elif repeated:
            items = _repeated(wire, value, ftype, ref, where, depth)
            if items:
                out.setdefault(json_name, []).extend(items)
        else:
            decoded = _value(wire, value, ftype, ref, where, depth)
            if decoded is None or (not keep_zero and ftype != "message" and not decoded
                                   and decoded is not True):
                out.pop(json_name, None)
            elif isinstance(decoded, dict) and isinstance(out.get(json_name), dict):
                _merge(out[json_name], decoded)  # a message seen twice is merged, as in proto
            else:
                out[json_name] = decoded
    return _special(out, name, path)


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            old.extend(value)
        else:
            into[key] = value


def _special(obj: dict[str, Any], name: str, path: str) -> Any:
    if name in (_TIME, _MICROTIME):
        seconds, nanos = obj.get("seconds", 0), obj.get("nanos", 0)
        if not seconds and not nanos:
            return None  # the zero Time: encoding/json prints null
        if not 0 <= nanos < 1_000_000_000:
            raise _fail(path, f"nanos {nanos} is outside 0..999999999")
        if not _FIRST_SECOND <= seconds <= _LAST_SECOND:
            raise _fail(path, f"{seconds} seconds since 1970 is outside the years 1 to 9999 "
                        "that RFC 3339 can print")
        when = _EPOCH + dt.timedelta(seconds=seconds)
        text = f"{when.year:04d}-" + when.strftime("%m-%dT%H:%M:%S")
        return text + "Z" if name == _TIME else f"{text}.{nanos // 1000:06d}Z"
    if name == _INT_OR_STRING:
        return obj.get("strVal", "") if obj.get("type", 0) == 1 else obj.get("intVal", 0)
    if name == _QUANTITY:
        return obj.get("string", "")
    if name == _FIELDS_V1:
        raw = obj.get("Raw", "")
        try:
            return json.loads(base64.b64decode(raw)) if raw else {}
        except ValueError as exc:
            raise _fail(path, f"FieldsV1 is not JSON: {exc}") from exc
    return obj


def _value(wire: int, value: int | bytes, ftype: str, ref: str, path: str, depth: int) -> Any:
    if ftype == "message":
        if not isinstance(value, bytes):
            raise _fail(path, "a message field arrived as a number")
        return _message(value, ref, path, depth + 1)
    if ftype in ("string", "bytes"):
        if not isinstance(value, bytes):
            raise _fail(path, f"a {ftype} field arrived as a number")
        return _text(value, path) if ftype == "string" else base64.b64encode(value).decode()
    if wire != VARINT or not isinstance(value, int):
        raise _fail(path, f"an {ftype} field arrived with wire type {wire}")
    if ftype == "bool":
        return value != 0
    return signed(value, 32 if ftype == "int32" else 64)


def _repeated(wire: int, value: int | bytes, ftype: str, ref: str, path: str,
              depth: int) -> list[Any]:
    if wire == LEN and ftype in ("int32", "int64", "bool"):  # packed
        assert isinstance(value, bytes)
        items, pos = [], 0
        while pos < len(value):
            item, pos = read_varint(value, pos, path)
            items.append(_value(VARINT, item, ftype, ref, path, depth))
        return items
    return [_value(wire, value, ftype, ref, path, depth)]


def _map_entry(value: int | bytes, types: list[str], path: str, depth: int) -> tuple[str, Any]:
    if not isinstance(value, bytes):
        raise _fail(path, "a map entry arrived as a number")
    key_type, value_type, value_ref = types
    key: Any = ""
    item: Any = None
    for num, wire, v in iter_fields(value, path):
        if num == 1:
            key = _value(wire, v, key_type, "", path, depth)
        elif num == 2:
            item = _value(wire, v, value_type, value_ref, f"{path}[{key}]", depth)
        else:
            raise _fail(path, f"a map entry has a field number {num} (only 1 and 2)")
    if item is None:
        item = {} if value_type == "message" else ("" if value_type != "bool" else False)
        if value_ref:
            item = _special({}, value_ref, path)
    return str(key), item
