"""A small encoder for Kubernetes' protobuf bodies, for tests: the JSON form of an object ->
``k8s\\x00`` + runtime.Unknown, with the field numbers of the cluster's schema. It writes the
fields the dict has (and ``zeros``, field paths written at their zero value as Go's encoder
does), so a test can build the bodies client-go sends byte for byte in structure. The fields
of an embedded struct (``json:",inline"``) go into its own message, as Go's encoder writes them;
a dict may also name the embedded field itself (``{"handler": {...}}``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from webhook.cluster.protobuf.decode import MAGIC, message_for, schema

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def ld(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def _scalar(number: int, ftype: str, value: Any) -> bytes:
    if ftype == "string":
        return ld(number, str(value).encode())
    if ftype == "bytes":
        return ld(number, base64.b64decode(value))
    if ftype == "bool":
        return key(number, 0) + varint(int(bool(value)))
    return key(number, 0) + varint(int(value))


def _special(name: str, value: Any) -> dict[str, Any] | None:
    if name == _META + "FieldsV1" and isinstance(value, dict) and set(value) != {"Raw"}:
        return {"Raw": base64.b64encode(json.dumps(value).encode()).decode()}
    if isinstance(value, dict):  # already in message form (e.g. a zero Time)
        return None
    if name in (_META + "Time", _META + "MicroTime"):
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return {"seconds": int(when.timestamp()), "nanos": when.microsecond * 1000}
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return ({"type": 1, "strVal": value} if isinstance(value, str)
                else {"type": 0, "intVal": value})
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return {"string": str(value)}
    return None


def _json_names(name: str) -> set[str]:
    """The JSON field names a message prints, its embedded structs' included."""
    out: set[str] = set()
    for field in schema()["messages"][name].values():
        out |= _json_names(field[2]) if field[5] else {field[0]}
    return out


def _split_inline(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the keys of each embedded struct moved under the embedded field."""
    out = dict(obj)
    for field in schema()["messages"][name].values():
        if field[5] and field[0] not in out:
            mine = {k: out.pop(k) for k in list(out) if k in _json_names(field[2])}
            if mine:
                out[field[0]] = mine
    return out


def message(name: str, obj: Any) -> bytes:
    special = _special(name, obj)
    if special is not None:
        obj = special
    table = schema()["messages"][name]
    by_name = {f[0]: (int(n), f) for n, f in table.items()}
    out = bytearray()
    for field_name, value in _split_inline(name, obj).items():
        number, (_, ftype, ref, repeated, _, _) = by_name[field_name]
        if ftype == "map":
            key_type, value_type, value_ref = ref
            for k, v in value.items():
                entry = _scalar(1, key_type, k) + (
                    ld(2, message(value_ref, v)) if value_type == "message"
                    else _scalar(2, value_type, v))
                out += ld(number, entry)
        elif repeated:
            for item in value:
                out += (ld(number, message(ref, item)) if ftype == "message"
                        else _scalar(number, ftype, item))
        elif ftype == "message":
            out += ld(number, message(ref, value))
        else:
            out += _scalar(number, ftype, value)
    return bytes(out)


def unknown(api_version: str, kind: str, payload: bytes, encoding: str = "") -> bytes:
    type_meta = ld(1, api_version.encode()) + ld(2, kind.encode())
    body = ld(1, type_meta) + ld(2, payload)
    if encoding:
        body += ld(3, encoding.encode())
    return MAGIC + body


def encode(obj: dict[str, Any]) -> bytes:
    """The protobuf body client-go would send for ``obj`` (apiVersion and kind required)."""
    name = message_for(obj["apiVersion"], obj["kind"])
    assert name is not None, (obj["apiVersion"], obj["kind"])
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return unknown(obj["apiVersion"], obj["kind"], message(name, rest))
