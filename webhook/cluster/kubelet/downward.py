"""The Downward API: pod fields and container resources as the kubelet exposes them in env vars
and downwardAPI volume files (pkg/fieldpath, pkg/api/v1/resource), as pure functions.

Field paths: ``metadata.name``, ``metadata.namespace``, ``metadata.uid``,
``metadata.labels``/``metadata.annotations`` (whole map, ``key="value"`` lines sorted, values
quoted as Go's ``%q``) or one key (``metadata.labels['app']``), ``spec.nodeName``,
``spec.serviceAccountName``, ``status.hostIP``/``hostIPs``, ``status.podIP``/``podIPs``.
Resources: ``limits.cpu``, ``limits.memory``, ``limits.ephemeral-storage`` and the ``requests.``
ones, divided by ``divisor`` and rounded up; an unset limit is the node's allocatable amount.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_KEYED = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")
_SUFFIX = {
    "Ki": Decimal(1024), "Mi": Decimal(1024) ** 2, "Gi": Decimal(1024) ** 3,
    "Ti": Decimal(1024) ** 4, "Pi": Decimal(1024) ** 5, "Ei": Decimal(1024) ** 6,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


class FieldError(Exception):
    """A field path or resource the Downward API cannot resolve (message as upstream)."""


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: printable characters kept, others escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def format_map(values: Mapping[str, Any]) -> str:
    """``fieldpath.FormatMap``: ``key="value"`` lines sorted by key, without a final newline."""
    return "\n".join(f"{k}={go_quote(str(values[k]))}" for k in sorted(values))


def field_value(pod: Mapping[str, Any], path: str, *, pod_ip: str, host_ip: str) -> str:
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    keyed = _KEYED.match(path)
    if keyed:
        values = md.get(keyed.group(1)) or {}
        return str(values.get(keyed.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": host_ip, "status.hostIPs": host_ip,
        "status.podIP": pod_ip, "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(md.get(path.split(".", 1)[1]) or {})
    raise FieldError(f"unsupported fieldPath: {path}")


def parse_quantity(value: Any) -> Decimal:
    """A resource quantity (``500m``, ``128Mi``, ``1.5``, ``2e3``) as a number."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise FieldError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}")
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except InvalidOperation as exc:
        raise FieldError(f"invalid quantity {text!r}") from exc


def node_allocatable() -> dict[str, Decimal]:
    """What an unset limit stands for: this machine's CPUs, memory and a nominal disk."""
    cpus = Decimal(os.cpu_count() or 1)
    try:
        memory = Decimal(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        memory = Decimal(8 << 30)
    return {"cpu": cpus, "memory": memory, "ephemeral-storage": Decimal(100 << 30)}


def resource_value(container: Mapping[str, Any], resource: str, divisor: Any = None,
                   allocatable: Mapping[str, Decimal] | None = None) -> str:
    """``ExtractContainerResourceValue`` with the node's allocatable as the default limit."""
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise FieldError(f"unsupported container resource : {resource}")
    resources = container.get("resources") or {}
    alloc = allocatable if allocatable is not None else node_allocatable()
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name)
    amount = parse_quantity(raw) if raw is not None else (
        alloc[name] if kind == "limits" else Decimal(0))
    div = parse_quantity(divisor) if divisor not in (None, "", 0, "0") else Decimal(1)
    if div <= 0:
        raise FieldError(f"invalid divisor {divisor!r}")
    if name == "cpu":  # in millicores, then rounded up (convertResourceCPUToString)
        milli, div_milli = math.ceil(amount * 1000), math.ceil(div * 1000)
        return str(math.ceil(Decimal(milli) / Decimal(div_milli)))
    return str(math.ceil(math.ceil(amount) / div))
