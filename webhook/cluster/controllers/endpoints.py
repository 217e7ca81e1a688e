"""v1 Endpoints built from a Service's EndpointSlices, as pure functions.

Upstream's endpoints controller builds Endpoints from the pods a Service selects; the slices the
EndpointSlice controller writes carry the same pods, so the Endpoints are derived from them:
ready endpoints become ``addresses``, serving-but-not-ready ones ``notReadyAddresses``,
terminating ones are left out; subsets are grouped by port list, addresses sorted by IP
(``RepackSubsets``). The Endpoints carry the Service's labels (and
``service.kubernetes.io/headless`` for a headless Service). A Service without a selector gets
Endpoints only when EndpointSlices name it; here that mirrors the other way round than
upstream's endpointslicemirroring, since Endpoints are read-only for clients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webhook.cluster.controllers.endpointslice import HEADLESS_LABEL, SERVICE_NAME_LABEL
from webhook.cluster.controllers.objects import Obj, labels_of, meta, name_of, namespace_of

_PORT_KEYS = ("name", "port", "protocol", "appProtocol")


def _address(ep: Mapping[str, Any], ip: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": ip}
    if ep.get("hostname"):
        out["hostname"] = ep["hostname"]
    if ep.get("nodeName"):
        out["nodeName"] = ep["nodeName"]
    ref = ep.get("targetRef")
    if isinstance(ref, Mapping):
        out["targetRef"] = {k: ref[k] for k in ("kind", "namespace", "name", "uid")
                            if ref.get(k)}
    return out


def _ip_key(address: Mapping[str, Any]) -> tuple[int, ...] | tuple[str]:
    parts = str(address.get("ip", "")).split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return tuple(int(p) for p in parts)
    return (str(address.get("ip", "")),)


def subsets(slices: Sequence[Obj]) -> list[dict[str, Any]]:
    """The Endpoints subsets of a Service's slices."""
    groups: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]],
                            dict[str, dict[str, Any]]]] = {}
    for s in slices:
        ports = [{k: p[k] for k in _PORT_KEYS if p.get(k) not in (None, "")}
                 for p in s.get("ports") or () if isinstance(p, Mapping)]
        if not ports:
            continue
        key = repr(sorted(ports, key=repr))
        _, ready, not_ready = groups.setdefault(key, (ports, {}, {}))
        for ep in s.get("endpoints") or ():
            cond = ep.get("conditions") or {}
            if cond.get("terminating") is True:
                continue
            for ip in ep.get("addresses") or ():
                target = ready if cond.get("ready") is not False else not_ready
                target[str(ip)] = _address(ep, str(ip))
    out = []
    for ports, ready, not_ready in groups.values():
        if not ready and not not_ready:
            continue
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready.values(), key=_ip_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready.values(), key=_ip_key)
        subset["ports"] = sorted(ports, key=lambda p: (str(p.get("name", "")), p.get("port")))
        out.append(subset)
    out.sort(key=lambda sub: repr(sub["ports"]))
    return out


def desired(service: Obj, slices: Sequence[Obj]) -> dict[str, Any] | None:
    """The Endpoints of ``service`` (None: it should have none)."""
    spec = service.get("spec") or {}
    mine = [s for s in slices if labels_of(s).get(SERVICE_NAME_LABEL) == name_of(service)]
    if spec.get("type") == "ExternalName" or (not spec.get("selector") and not mine):
        return None
    labels = {k: v for k, v in labels_of(service).items() if k != HEADLESS_LABEL}
    if spec.get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name_of(service), "namespace": namespace_of(service)},
    }
    if labels:
        body["metadata"]["labels"] = labels
    sets = subsets(mine)
    if sets:
        body["subsets"] = sets
    return body


def differs(current: Obj, want: Mapping[str, Any]) -> bool:
    return (labels_of(current) != labels_of(want)
            or (current.get("subsets") or []) != (want.get("subsets") or []))


def update_of(current: Obj, want: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(current)
    md = dict(meta(current))
    labels = dict(meta(want).get("labels") or {})
    if labels:
        md["labels"] = labels
    else:
        md.pop("labels", None)
    body["metadata"] = md
    if want.get("subsets"):
        body["subsets"] = want["subsets"]
    else:
        body.pop("subsets", None)
    return body
