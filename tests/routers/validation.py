"""Checks that generated objects would be accepted by an API server.

Custom resources: the CRD's ``openAPIV3Schema`` (from ``tests/data/crds``) through the embedded
cluster's structural-schema code — an unknown field (which a server would silently prune) is an
error here — plus the CEL rules that matter for what routers write, checked by hand. Core kinds
(Ingress, ConfigMap): the official client's models (unknown fields, required fields, types) plus
the Ingress field rules of the API server's validation.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from webhook.cluster.schema import prune_and_default, validate

CRD_DIR = Path(__file__).resolve().parent.parent / "data" / "crds"
CRD_FILES = {
    ("networking.istio.io", "VirtualService"): "virtualservice.crd.yaml",
    ("networking.istio.io", "DestinationRule"): "destinationrule.crd.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway.networking.k8s.io_httproutes.yaml",
    ("split.smi-spec.io", "TrafficSplit"): "trafficsplit.crd.yaml",
}
CORE_MODELS = {("networking.k8s.io", "Ingress"): "V1Ingress", ("", "ConfigMap"): "V1ConfigMap"}
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@functools.cache
def crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRD_DIR / CRD_FILES[(group, kind)]).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            assert v.get("served"), f"{group}/{version} {kind} is not served"
            return dict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{group}/{version} {kind}: no such version in the CRD")


def problems(obj: dict[str, Any]) -> list[str]:
    """Every reason the API server would refuse (or silently change) ``obj``."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    kind = str(obj.get("kind"))
    out = _model_problems(obj.get("metadata") or {}, "V1ObjectMeta", "metadata")
    name = str((obj.get("metadata") or {}).get("name", ""))
    if not _SUBDOMAIN.match(name) or len(name) > 253:
        out.append(f"metadata.name: invalid name {name!r}")
    if (group, kind) in CRD_FILES:
        schema = crd_schema(group, kind, version)
        pruned_copy = copy.deepcopy(obj)
        out += [
            f"{p}: unknown field (would be pruned)" for p in prune_and_default(pruned_copy, schema)
        ]
        out += [c.text() for c in validate(obj, schema)]
        out += _cel_problems(group, kind, obj)
    elif (group, kind) in CORE_MODELS:
        body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
        out += _model_problems(body, CORE_MODELS[(group, kind)], "")
        if kind == "Ingress":
            out += _ingress_problems(obj)
    else:
        raise AssertionError(f"no schema for {obj.get('apiVersion')} {kind}")
    return out


def assert_valid(obj: dict[str, Any]) -> None:
    found = problems(obj)
    assert not found, f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {found}"


# --- core kinds through the official client's models -------------------------------------------

_PRIMITIVES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
    "object": object,
    "bytes": str,
}


def _model_problems(data: Any, type_name: str, path: str) -> list[str]:
    out: list[str] = []
    _walk(data, type_name, path, out)
    return out


def _walk(data: Any, type_name: str, path: str, out: list[str]) -> None:
    if type_name.startswith(("list[", "List[")):
        if not isinstance(data, list):
            out.append(f"{path}: must be a list")
            return
        for i, item in enumerate(data):
            _walk(item, type_name[5:-1], f"{path}[{i}]", out)
        return
    if type_name.startswith(("dict(", "Dict[")):
        inner = type_name[5:-1].split(", ", 1)[1]
        if not isinstance(data, dict):
            out.append(f"{path}: must be an object")
            return
        for key, value in data.items():
            _walk(value, inner, f"{path}[{key}]", out)
        return
    if type_name in _PRIMITIVES or type_name == "datetime":
        want = _PRIMITIVES.get(type_name, str)
        if not isinstance(data, want) or (want is int and isinstance(data, bool)):
            out.append(f"{path}: must be {type_name}, got {type(data).__name__}")
        return
    model = getattr(k8s, type_name)
    if not isinstance(data, dict):
        out.append(f"{path}: must be an object ({type_name})")
        return
    fields = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, value in data.items():
        sub = f"{path}.{key}" if path else key
        if key not in fields:
            out.append(f"{sub}: unknown field of {type_name}")
        else:
            _walk(value, model.openapi_types[fields[key]], sub, out)
    try:
        k8s.ApiClient()._ApiClient__deserialize(data, type_name)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        out.append(f"{path or type_name}: {exc}")


def _ingress_problems(ingress: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for i, rule in enumerate((ingress.get("spec") or {}).get("rules") or []):
        for j, path in enumerate(((rule.get("http") or {}).get("paths")) or []):
            where = f"spec.rules[{i}].http.paths[{j}]"
            if path.get("pathType") not in ("Exact", "Prefix", "ImplementationSpecific"):
                out.append(f"{where}.pathType: must be Exact, Prefix or ImplementationSpecific")
            service = (path.get("backend") or {}).get("service")
            if service is None:
                continue
            if not _DNS1035.match(str(service.get("name", ""))):
                out.append(f"{where}.backend.service.name: invalid Service name")
            port = service.get("port") or {}
            if ("name" in port) == ("number" in port):
                out.append(f"{where}.backend.service.port: exactly one of name and number")
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    out += [
        f"metadata.annotations[{k}]: must be a string"
        for k, v in annotations.items()
        if not isinstance(v, str)
    ]
    return out


# --- CEL rules the structural check does not evaluate ------------------------------------------


def _cel_problems(group: str, kind: str, obj: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if kind != "HTTPRoute":
        return out
    rules = (obj.get("spec") or {}).get("rules") or []
    names = [r["name"] for r in rules if r.get("name")]
    if len(names) != len(set(names)):
        out.append("spec.rules: rule names must be unique")
    if sum(len(r.get("matches") or []) for r in rules) > 128:
        out.append("spec.rules: at most 128 matches in all")
    for i, rule in enumerate(rules):
        refs = list(rule.get("backendRefs") or [])
        for f in rule.get("filters") or []:
            if f.get("type") == "RequestMirror":
                mirror = f.get("requestMirror") or {}
                if "percent" in mirror and "fraction" in mirror:
                    out.append(f"spec.rules[{i}]: RequestMirror sets both percent and fraction")
                refs.append(mirror.get("backendRef") or {})
            if f.get("type") and _filter_field(f["type"]) not in f:
                out.append(f"spec.rules[{i}].filters: type {f['type']} without its object")
        for ref in refs:
            service = ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""
            if service and "port" not in ref:
                out.append(f"spec.rules[{i}]: backendRef {ref.get('name')} needs a port")
    return out


def _filter_field(filter_type: str) -> str:
    return filter_type[0].lower() + filter_type[1:]
