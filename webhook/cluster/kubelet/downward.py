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

import os
import re
from collections.abc import Mapping
from typing import Any

_KEYED = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")
NANO = 10 ** 9
# quantity suffixes as a multiple of 10^-9 (values are kept as integer billionths: exact)
_SUFFIX = {
    "Ki": NANO << 10, "Mi": NANO << 20, "Gi": NANO << 30, "Ti": NANO << 40, "Pi": NANO << 50,
    "Ei": NANO << 60, "n": 1, "u": 10 ** 3, "m": 10 ** 6, "": NANO, "k": NANO * 10 ** 3,
    "M": NANO * 10 ** 6, "G": NANO * 10 ** 9, "T": NANO * 10 ** 12, "P": NANO * 10 ** 15,
    "E": NANO * 10 ** 18,
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


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def parse_quantity(value: Any) -> int:
    """A resource quantity (``500m``, ``128Mi``, ``1.5``, ``2e3``) in billionths, rounded up."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match or len(text) > 64:
        raise FieldError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}")
    number, _, exponent = match.group(1).lower().partition("e")
    whole, _, frac = number.partition(".")
    if "." in frac or not (whole.strip("+-") or frac):
        raise FieldError(f"invalid quantity {text!r}")
    digits = int((whole + frac) or "0")
    power = (int(exponent) if exponent else 0) - len(frac)
    if abs(power) > 40:
        raise FieldError(f"invalid quantity {text!r}")
    scaled = digits * _SUFFIX[match.group(2) or ""]
    return scaled * 10 ** power if power >= 0 else _ceil_div(scaled, 10 ** -power)


def node_allocatable() -> dict[str, int]:
    """What an unset limit stands for: this machine's CPUs, memory and a nominal disk."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    return {"cpu": os.cpu_count() or 1, "memory": memory, "ephemeral-storage": 100 << 30}


def resource_value(container: Mapping[str, Any], resource: str, divisor: Any = None,
                   allocatable: Mapping[str, int] | None = None) -> str:
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
        alloc[name] * NANO if kind == "limits" else 0)
    div = parse_quantity(divisor) if divisor not in (None, "", 0, "0") else NANO
    if div <= 0:
        raise FieldError(f"invalid divisor {divisor!r}")
    if name == "cpu":  # in millicores, then rounded up (convertResourceCPUToString)
        return str(_ceil_div(_ceil_div(amount, 10 ** 6), _ceil_div(div, 10 ** 6)))
    return str(_ceil_div(_ceil_div(amount, NANO) * NANO, div))
