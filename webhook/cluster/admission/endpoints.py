"""Where a webhook's Service reference is dialled: a ready endpoint of the Service.

kube-apiserver resolves a service reference through the Service's endpoints (its
EndpointSlices); here every address is on loopback. Until slices exist (before the
EndpointSlice controller wrote them, or for tests that run without it), the ready pods the
Service selects stand in, with named target ports resolved through the containers' ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.cluster.meta import labels_of
from webhook.cluster.store import Store

SLICES = "endpointslices.discovery.k8s.io"


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _container_port(pod: Mapping[str, Any], target: Any) -> int | None:
    if isinstance(target, int):
        return target
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def resolve_service(store: Store, ns: str, name: str, port: int) -> tuple[str, int] | None:
    svc = store.get("services", ns, name)
    if svc is None:
        return None
    spec = svc.get("spec") or {}
    sport = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
    if sport is None:
        return None
    port_name = sport.get("name") or ""
    slices = [s for s in store.iter(SLICES, ns)
              if labels_of(s).get("kubernetes.io/service-name") == name]
    if slices:
        for s in slices:
            ep_port = next((p.get("port") for p in s.get("ports") or []
                            if (p.get("name") or "") == port_name), None)
            if ep_port is None:
                continue
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is not False and ep.get("addresses"):
                    return str(ep["addresses"][0]), int(ep_port)
        return None
    selector = spec.get("selector")
    if not selector:
        return None
    target = sport.get("targetPort", port)
    for pod in store.iter("pods", ns):
        labels = labels_of(pod)
        if not all(labels.get(k) == v for k, v in selector.items()):
            continue
        ip = (pod.get("status") or {}).get("podIP")
        cport = _container_port(pod, target)
        if ip and cport and _pod_ready(pod) and not pod.get("metadata", {}).get(
            "deletionTimestamp"
        ):
            return str(ip), cport
    return None
