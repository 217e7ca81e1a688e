"""The stable and canary Services: which Service is stable, how selectors are pinned, the
sanitised canary copy, and how a changed Service is restored.

A selector "pin" is one extra key added to a Service's own selector, so the user's keys stay as
they are: ``rollouts-pod-template-hash: <hash>``, or — for an adopted Deployment whose old pods
were never stamped with that label — Kubernetes' ``pod-template-hash`` of their ReplicaSet.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.release.model import DeploymentView, ReplicaSetView, ServiceView, World
from webhook.release.names import (
    HASH_LABEL,
    MANAGED_BY_ANNOTATION,
    ORIGINAL_SELECTOR,
    POD_TEMPLATE_HASH,
)
from webhook.release.ops import CreateService, PatchServiceSelector
from webhook.routers.base import Owner
from webhook.spec import CanarySpec

PIN_KEYS = (HASH_LABEL, POD_TEMPLATE_HASH)


def subset_level_only(spec: CanarySpec) -> bool:
    """Every router splits by Istio DestinationRule subsets: the pods of both revisions stay
    behind the one Service the subsets live on, which canarist leaves as it is (Argo Rollouts:
    in subset-level splitting "this Service is not modified by the rollout controller"), and no
    canary Service is needed."""
    return (
        spec.traffic_routed
        and spec.options.istio_destination_rule is not None
        and all(router == "istio" for router in spec.routers)
    )


def pins_services(spec: CanarySpec) -> bool:
    """The release pins the stable Service to the stable pods (and needs one): every traffic
    router but a subset-level-only Istio split. With router ``none`` the user's Service keeps
    selecting both revisions."""
    return spec.traffic_routed and not subset_level_only(spec)


def has_canary_service(spec: CanarySpec) -> bool:
    return not subset_level_only(spec)


def root_services(spec: CanarySpec) -> tuple[str, ...]:
    """Root Services the options name (``smi-root-service``, ``alb-root-service``): the ones
    clients call, never the stable Service unless configured as such."""
    opts = spec.options
    return tuple(name for name in (opts.smi_root_service, opts.alb_root_service) if name)


@dataclass(frozen=True)
class Pin:
    key: str
    value: str

    def selector(self, base: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in base.items() if k not in PIN_KEYS}
        out[self.key] = self.value
        return out


def pin_for(revision: str, replica_sets: tuple[ReplicaSetView, ...]) -> Pin:
    """How to select the pods of ``revision``: by the canarist hash when they carry it, else by
    the ``pod-template-hash`` of their largest ReplicaSet (an adopted Deployment's old pods)."""
    matching = sorted(
        (rs for rs in replica_sets if rs.hash == revision), key=lambda rs: -rs.replicas
    )
    if matching and not matching[0].stamped and matching[0].pod_template_hash:
        return Pin(POD_TEMPLATE_HASH, matching[0].pod_template_hash)
    return Pin(HASH_LABEL, revision)


def _template_labels(d: DeploymentView) -> dict[str, str]:
    meta = d.template.get("metadata") or {}
    labels = meta.get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def original_selector(svc: ServiceView) -> dict[str, str]:
    """The selector the Service had before canarist changed it."""
    text = svc.annotations.get(ORIGINAL_SELECTOR)
    if text:
        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
    return {k: v for k, v in svc.selector.items() if k not in PIN_KEYS}


@dataclass(frozen=True)
class StableChoice:
    service: ServiceView | None
    problem: str = ""


def find_stable(world: World, configured: str | None, canary: str | None = None) -> StableChoice:
    """The stable Service: the configured one, else the one Service (not created by canarist,
    not the configured canary Service) whose own selector matches the pods. A Service ``X`` and
    a ``X-canary`` that both match are taken as a stable/canary pair made by hand; a root Service
    a router option names is not the stable one when another matches."""
    d = world.deployment
    if configured:
        svc = world.service(configured)
        if svc is None:
            return StableChoice(None, f"stable Service {configured!r} not found")
        return StableChoice(svc)
    labels = _template_labels(d)
    roots = root_services(world.spec) if world.spec is not None else ()
    candidates = []
    for svc in world.services:
        if (d.uid and d.uid in svc.owner_uids) or svc.name == canary:
            continue  # a canary Service
        base = original_selector(svc) if svc.managed_for(d.name) else svc.selector
        base = {k: v for k, v in base.items() if k not in PIN_KEYS}
        if base and all(labels.get(k) == v for k, v in base.items()):
            candidates.append(svc)
    names_ = {s.name for s in candidates}
    candidates = [
        s for s in candidates if not (s.name.endswith("-canary") and s.name[:-7] in names_)
    ]
    if len(candidates) > 1:  # a root Service clients call (SMI's apex) selects every pod too
        candidates = [s for s in candidates if s.name not in roots] or candidates
    if len(candidates) == 1:
        return StableChoice(candidates[0])
    if not candidates:
        return StableChoice(
            None, "no Service selects the pods; name one in canarist.io/stable-service"
        )
    names = ", ".join(sorted(s.name for s in candidates))
    return StableChoice(
        None, f"several Services select the pods ({names}); name one in canarist.io/stable-service"
    )


def pin_patch(svc: ServiceView, pin: Pin, deployment: str) -> PatchServiceSelector | None:
    """The patch that pins ``svc`` (a Service canarist changes but does not own), or ``None``
    when it is pinned already. The first pin records the original selector for ``restore``."""
    want = pin.selector(original_selector(svc) if svc.managed_for(deployment) else svc.selector)
    remove = tuple(k for k in PIN_KEYS if k in svc.selector and k not in want)
    annotations: dict[str, str | None] = {}
    if not svc.managed_for(deployment):
        annotations[MANAGED_BY_ANNOTATION] = deployment
        annotations[ORIGINAL_SELECTOR] = json.dumps(dict(svc.selector), sort_keys=True)
    if dict(svc.selector) == want and not annotations:
        return None
    changed = {k: v for k, v in want.items() if svc.selector.get(k) != v}
    return PatchServiceSelector(svc.name, changed, remove, annotations)


def restore_patch(svc: ServiceView) -> PatchServiceSelector:
    """Give a Service back its original selector and drop canarist's marks."""
    original = original_selector(svc)
    remove = tuple(k for k in svc.selector if k not in original)
    changed = {k: v for k, v in original.items() if svc.selector.get(k) != v}
    return PatchServiceSelector(
        svc.name, changed, remove, {MANAGED_BY_ANNOTATION: None, ORIGINAL_SELECTOR: None}
    )


_DROP_SPEC = (
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "loadBalancerClass",
    "healthCheckNodePort",
    "allocateLoadBalancerNodePorts",
    "ipFamilies",
    "ipFamilyPolicy",
)
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def canary_service_type(stable: ServiceView) -> str:
    """The canary Service's type: ``NodePort`` when the stable Service has node ports (a
    ``NodePort`` or ``LoadBalancer`` one: an ALB in instance mode sends to node ports, and a
    second cloud load balancer is not wanted), else ``ClusterIP``."""
    kind = str((stable.raw.get("spec") or {}).get("type") or "ClusterIP")
    return "NodePort" if kind in NODE_PORT_TYPES else "ClusterIP"


def canary_ports(stable: ServiceView) -> list[dict[str, Any]]:
    """The stable Service's ports without its node port numbers (the API server allocates the
    canary's own; reusing the stable's would be refused as already allocated)."""
    out = []
    for port in (stable.raw.get("spec") or {}).get("ports") or ():
        out.append({k: copy.deepcopy(v) for k, v in dict(port).items() if k != "nodePort"})
    return out


def canary_service_body(
    stable: ServiceView, name: str, namespace: str, owner: Owner, pin: Pin
) -> dict[str, Any]:
    """A copy of the stable Service: same ports and selector (plus the pin), the type of
    ``canary_service_type``, none of the cluster-assigned or load-balancer fields (a headless
    stable Service gives a headless canary), owned by the user's Deployment."""
    raw = stable.raw
    spec = copy.deepcopy(dict(raw.get("spec") or {}))
    headless = spec.get("clusterIP") == "None"
    for key in _DROP_SPEC:
        spec.pop(key, None)
    spec["ports"] = canary_ports(stable)
    spec["type"] = canary_service_type(stable)
    if spec["type"] not in NODE_PORT_TYPES:
        spec.pop("externalTrafficPolicy", None)
    if headless:
        spec["clusterIP"] = "None"
    spec["selector"] = pin.selector(original_selector(stable))
    meta = raw.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(meta.get("labels") or {}),
            "annotations": {MANAGED_BY_ANNOTATION: owner.name},
            "ownerReferences": [owner.reference()],
        },
        "spec": spec,
    }


def canary_service_ops(
    world: World,
    stable: ServiceView,
    name: str,
    pin: Pin,
) -> list[CreateService | PatchServiceSelector]:
    """Create the canary Service, or re-point an existing one (canarist's own, or one the user
    made, which is then treated like the stable Service: pinned and later restored)."""
    d = world.deployment
    owner = Owner(d.name, d.uid)
    existing = world.service(name)
    if existing is None:
        return [CreateService(canary_service_body(stable, name, d.namespace, owner, pin))]
    if d.uid in existing.owner_uids:
        want = pin.selector(original_selector(stable))
        kind = canary_service_type(stable)
        retype = str((existing.raw.get("spec") or {}).get("type") or "ClusterIP") != kind
        if dict(existing.selector) == want and not retype:
            return []
        remove = tuple(k for k in existing.selector if k not in want)
        changed = {k: v for k, v in want.items() if existing.selector.get(k) != v}
        if not retype:
            return [PatchServiceSelector(name, changed, remove)]
        # made by an earlier version as ClusterIP beside a NodePort stable Service
        return [PatchServiceSelector(name, changed, remove, service_type=kind,
                                     ports=tuple(canary_ports(stable)))]
    patch = pin_patch(existing, pin, d.name)
    return [patch] if patch else []
