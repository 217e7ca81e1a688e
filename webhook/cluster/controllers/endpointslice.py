"""The EndpointSlice controller's decisions (pkg/controller/endpointslice), as pure functions.

For a Service with a selector: every selected pod that has an IP and is not terminal becomes an
endpoint (``ready`` = serving and not terminating, ``serving`` = pod Ready, ``terminating`` =
deletionTimestamp set); ports come from the Service, named targetPorts resolved per pod against
its container ports. Endpoints are grouped by their resolved port list and cut into slices of at
most 100; existing managed slices are updated in place, missing ones created, extra ones deleted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.controllers.objects import (
    Obj,
    is_deleting,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    map_selector_matches,
    meta,
    name_of,
    namespace_of,
    new_controller_ref,
    pod_ip,
    uid_of,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_ENDPOINTS_PER_SLICE = 100
DISCOVERY_V1 = "discovery.k8s.io/v1"


@dataclass(frozen=True)
class SliceChanges:
    create: tuple[dict[str, Any], ...] = ()
    update: tuple[dict[str, Any], ...] = ()
    delete: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def service_selector(service: Obj) -> Mapping[str, str] | None:
    """The selector the controller uses, or ``None`` for a Service it does not manage
    (no selector, or type ExternalName)."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    sel = spec.get("selector")
    return sel if isinstance(sel, Mapping) else None


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """``podutil.FindPort``: a named targetPort is looked up in the pod's container ports (name
    and protocol); a number is used as is; no targetPort means the Service port."""
    target = service_port.get("targetPort", service_port.get("port"))
    protocol = service_port.get("protocol") or "TCP"
    if isinstance(target, str) and not target.isdigit():
        for container in (pod.get("spec") or {}).get("containers") or ():
            for port in container.get("ports") or ():
                if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                    return int(port["containerPort"])
        return None
    return int(target) if target is not None else None


def endpoint_ports(service: Obj, pod: Obj) -> list[dict[str, Any]]:
    """``getEndpointPorts``: one entry per Service port the pod resolves."""
    out = []
    for sp in (service.get("spec") or {}).get("ports") or ():
        number = find_port(pod, sp)
        if number is None:
            continue
        port: dict[str, Any] = {"name": sp.get("name") or "", "port": number,
                                "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(service: Obj, pod: Obj) -> dict[str, Any]:
    """``podToEndpoint``."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = publish or is_pod_ready(pod)
    terminating = is_deleting(pod)
    ready = publish or (serving and not terminating)
    ep: dict[str, Any] = {
        "addresses": [pod_ip(pod)],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {"kind": "Pod", "namespace": namespace_of(pod), "name": name_of(pod),
                      "uid": uid_of(pod)},
    }
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == name_of(service):
        ep["hostname"] = spec["hostname"]
    return ep


def should_include(pod: Obj) -> bool:
    """``ShouldPodBeInEndpoints(pod, includeTerminating=true)``."""
    return not is_pod_terminal(pod) and bool(pod_ip(pod))


def slice_labels(service: Obj) -> dict[str, str]:
    """``setEndpointSliceLabels``: the Service's labels, then the reserved ones."""
    reserved = {SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL}
    labels = {k: v for k, v in labels_of(service).items() if k not in reserved}
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = name_of(service)
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def desired_slices(service: Obj, pods: Sequence[Obj]) -> list[tuple[list[dict[str, Any]],
                                                                    list[dict[str, Any]]]]:
    """(ports, endpoints) per slice the Service needs; endpoints sorted by pod name."""
    selector = service_selector(service)
    if selector is None:
        return []
    groups: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    selected = [p for p in pods if map_selector_matches(selector, labels_of(p))
                and should_include(p)]
    for pod in sorted(selected, key=name_of):
        ports = endpoint_ports(service, pod)
        key = repr(ports)
        groups.setdefault(key, (ports, []))[1].append(pod_to_endpoint(service, pod))
    out = []
    for ports, endpoints in groups.values():
        for start in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
            out.append((ports, endpoints[start:start + MAX_ENDPOINTS_PER_SLICE]))
    if not out:
        out.append(([], []))  # the reconciler's placeholder slice: no endpoints, no ports
    return out


def is_managed_slice(obj: Obj, service: Obj) -> bool:
    labels = labels_of(obj)
    return (labels.get(SERVICE_NAME_LABEL) == name_of(service)
            and labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME)


def reconcile(service: Obj, pods: Sequence[Obj], existing: Sequence[Obj]) -> SliceChanges:
    """Turn the desired slices into creates, in-place updates and deletes of the managed
    slices (``existing`` are the slices labelled with this Service's name)."""
    if service_selector(service) is None:
        return SliceChanges()
    managed = sorted((s for s in existing if is_managed_slice(s, service)), key=name_of)
    labels = slice_labels(service)
    owner = new_controller_ref(service, api_version="v1", kind="Service")
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unused = list(managed)
    for ports, endpoints in desired_slices(service, pods):
        match = next((s for s in unused if (s.get("ports") or []) == ports), None)
        if match is None:
            creates.append({
                "apiVersion": DISCOVERY_V1, "kind": "EndpointSlice",
                "metadata": {"generateName": f"{name_of(service)}-",
                             "namespace": namespace_of(service), "labels": dict(labels),
                             "ownerReferences": [owner]},
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports,
            })
            continue
        unused.remove(match)
        if (match.get("endpoints") or []) != endpoints or labels_of(match) != labels or (
                meta(match).get("ownerReferences") or []) != [owner]:
            updated = copy.deepcopy(dict(match))
            updated["endpoints"] = endpoints
            updated["ports"] = ports
            md = updated.setdefault("metadata", {})
            md["labels"] = dict(labels)
            md["ownerReferences"] = [owner]
            updates.append(updated)
    return SliceChanges(tuple(creates), tuple(updates), tuple(name_of(s) for s in unused))
