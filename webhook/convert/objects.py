"""The objects around a Rollout, passed through unchanged except where canarist expects
something else: what Argo Rollouts wrote into them is taken out, so canarist starts from the
objects as the user wrote them.

- Services: Argo's ``rollouts-pod-template-hash`` selector pin and its managed-by annotation
  (canarist pins selectors itself, with the same label, during a release).
- DestinationRules: the hash labels Argo put on the subsets.
- VirtualServices and HTTPRoutes: routes named in ``managedRoutes`` that Argo left behind
  (canarist refuses to take over a route of that name it did not write), the Gateway API
  plugin's in-progress label.
- ALB Ingresses: the actions, conditions and paths of managed routes, Argo's bookkeeping
  annotations (the root action stays: the load balancer routes through it).
- Objects Argo Rollouts created (owned by a Rollout: the nginx canary Ingress, a TrafficSplit)
  are left out: canarist creates its own, under the same names.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from webhook.convert.report import Notes
from webhook.convert.rollout import LAST_APPLIED, SERVER_FIELDS
from webhook.spec.names import HASH_LABEL

ARGO_MANAGED_BY = "argo-rollouts.argoproj.io/managed-by-rollouts"
ALB_BOOKKEEPING = ("rollouts.argoproj.io/managed-alb-annotations",
                   "rollouts.argoproj.io/managed-alb-actions")
GATEWAY_LABEL = "rollouts.argoproj.io/gatewayapi-canary"
ALB_PREFIX = "alb.ingress.kubernetes.io/"


@dataclass
class Owner:
    """What a converted Rollout says about the objects around it."""

    rollout: str
    namespace: str | None
    managed_routes: list[str] = field(default_factory=list)
    virtual_services: list[str] = field(default_factory=list)
    destination_rule: str | None = None
    http_routes: list[str] = field(default_factory=list)
    alb_ingresses: list[str] = field(default_factory=list)
    nginx_ingresses: list[str] = field(default_factory=list)
    traffic_split: str | None = None
    services: list[str] = field(default_factory=list)

    def near(self, meta: dict[str, Any]) -> bool:
        ns = meta.get("namespace")
        return ns is None or self.namespace is None or ns == self.namespace


def subject_of(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{obj['kind']} {ns + '/' if ns else ''}{meta['name']}"


def pass_through(obj: dict[str, Any], owners: Iterable[Owner], notes: Notes
                 ) -> dict[str, Any] | None:
    """The object to write (a cleaned copy), or ``None`` when it is left out."""
    subject = subject_of(obj)
    meta = obj["metadata"]
    near = [o for o in owners if o.near(meta)]
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("kind") == "Rollout" and any(
                ref.get("name") == o.rollout for o in near):
            notes.changed(subject, "metadata.ownerReferences", f"created by Argo Rollouts for "
                          f"Rollout {ref.get('name')}: left out, canarist creates its own")
            return None
    name, kind = meta["name"], obj["kind"]
    if kind == "Ingress" and any(name == f"{o.rollout}-{i}-canary" for o in near
                                 for i in o.nginx_ingresses):
        notes.changed(subject, "", "Argo Rollouts' canary Ingress: left out, canarist creates "
                      "its own of that name (delete this one first)")
        return None
    if kind == "TrafficSplit" and any(name == o.traffic_split for o in near):
        notes.changed(subject, "", "Argo Rollouts' TrafficSplit: left out, canarist creates its "
                      "own of that name (delete this one first)")
        return None
    out = copy.deepcopy(obj)
    changes: list[tuple[str, str]] = []
    _server_fields(out, changes)
    cleaner = _CLEANERS.get(kind)
    if cleaner is not None:
        cleaner(out, near, changes)
    for path, how in changes:
        notes.changed(subject, path, how)
    if not changes:
        notes.converted(subject, "", "passed through unchanged")
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _server_fields(obj: dict[str, Any], changes: list[tuple[str, str]]) -> None:
    meta = obj["metadata"]
    dropped = [k for k in SERVER_FIELDS if meta.pop(k, None) is not None]
    annotations = _dict(meta.get("annotations"))
    if annotations.pop(LAST_APPLIED, None) is not None:
        dropped.append(f"annotations.{LAST_APPLIED}")
    if obj.pop("status", None) is not None:
        dropped.append("status")
    if dropped:
        changes.append(("metadata", "left out what the API server and kubectl wrote: "
                        + ", ".join(dropped)))


def _drop_annotations(obj: dict[str, Any], keys: Iterable[str], changes: list[tuple[str, str]]
                      ) -> None:
    annotations = _dict(obj["metadata"].get("annotations"))
    for key in keys:
        if annotations.pop(key, None) is not None:
            changes.append((f"metadata.annotations.{key}", "Argo Rollouts' record: left out"))
    if "annotations" in obj["metadata"] and not annotations:
        del obj["metadata"]["annotations"]


def _service(obj: dict[str, Any], owners: list[Owner], changes: list[tuple[str, str]]) -> None:
    name = obj["metadata"]["name"]
    annotations = _dict(obj["metadata"].get("annotations"))
    if not any(name in o.services or annotations.get(ARGO_MANAGED_BY) == o.rollout
               for o in owners):
        return
    selector = _dict(obj.get("spec")).get("selector")
    ops = []
    if isinstance(selector, dict) and selector.pop(HASH_LABEL, None) is not None:
        ops.append({"op": "remove", "path": f"/spec/selector/{HASH_LABEL}"})
    if ARGO_MANAGED_BY in annotations:
        ops.append({"op": "remove", "path": "/metadata/annotations/"
                    + ARGO_MANAGED_BY.replace("~", "~0").replace("/", "~1")})
    _drop_annotations(obj, (ARGO_MANAGED_BY,), [])
    if ops:
        ns = obj["metadata"].get("namespace")
        command = (f"kubectl patch service {shlex.quote(name)}"
                   + (f" -n {shlex.quote(ns)}" if ns else "") + " --type json -p "
                   + shlex.quote(json.dumps(ops, separators=(",", ":"))))
        changes.append(("spec.selector", f"Argo Rollouts' {HASH_LABEL} pin left out: the "
                        "Service selects the pods of every version until canarist pins it; "
                        "kubectl apply keeps what a controller added, so remove it with: "
                        + command))


def _destination_rule(obj: dict[str, Any], owners: list[Owner], changes: list[tuple[str, str]]
                      ) -> None:
    if not any(o.destination_rule == obj["metadata"]["name"] for o in owners):
        return
    subsets = _dict(obj.get("spec")).get("subsets")
    for i, subset in enumerate(subsets if isinstance(subsets, list) else ()):
        labels = subset.get("labels") if isinstance(subset, dict) else None
        if isinstance(labels, dict) and labels.pop(HASH_LABEL, None) is not None:
            changes.append((f"spec.subsets[{i}].labels", f"Argo Rollouts' {HASH_LABEL} left "
                            "out: canarist sets it during a release"))
    _drop_annotations(obj, (ARGO_MANAGED_BY,), changes)


def _routes(owners: list[Owner], attr: str, name: str) -> set[str]:
    """The managed routes of the Rollouts that name this object (``name.namespace`` too)."""
    return {r for o in owners for ref in getattr(o, attr)
            if ref == name or ref.startswith(name + ".") for r in o.managed_routes}


def _virtual_service(obj: dict[str, Any], owners: list[Owner], changes: list[tuple[str, str]]
                     ) -> None:
    managed = _routes(owners, "virtual_services", obj["metadata"]["name"])
    spec = _dict(obj.get("spec"))
    http = spec.get("http")
    if managed and isinstance(http, list):
        kept = [r for r in http if not (isinstance(r, dict) and isinstance(r.get("name"), str)
                                        and r["name"] in managed)]
        for r in http:
            if r not in kept:
                changes.append(("spec.http", f"route {r.get('name')!r} left by Argo Rollouts "
                                "(managedRoutes) taken out"))
        spec["http"] = kept


def _http_route(obj: dict[str, Any], owners: list[Owner], changes: list[tuple[str, str]]
                ) -> None:
    labels = _dict(obj["metadata"].get("labels"))
    if labels.pop(GATEWAY_LABEL, None) is not None:
        changes.append((f"metadata.labels.{GATEWAY_LABEL}", "the plugin's in-progress label "
                        "left out"))
    managed = _routes(owners, "http_routes", obj["metadata"]["name"])
    rules = _dict(obj.get("spec")).get("rules")
    if managed and isinstance(rules, list):
        kept = [r for r in rules if not (isinstance(r, dict) and _managed_rule(r, managed))]
        if len(kept) != len(rules):
            changes.append(("spec.rules", f"{len(rules) - len(kept)} header rule(s) left by "
                            "the Gateway API plugin (managedRoutes) taken out"))
        obj["spec"]["rules"] = kept


def _managed_rule(rule: dict[str, Any], managed: set[str]) -> bool:
    name = rule.get("name")
    return isinstance(name, str) and any(
        name == m or (name.startswith(m + "-") and name[len(m) + 1:].isdigit()) for m in managed)


def _ingress(obj: dict[str, Any], owners: list[Owner], changes: list[tuple[str, str]]) -> None:
    name = obj["metadata"]["name"]
    if not any(name in o.alb_ingresses for o in owners):
        return
    _drop_annotations(obj, ALB_BOOKKEEPING, changes)
    managed = _routes(owners, "alb_ingresses", name)
    _drop_annotations(obj, [f"{ALB_PREFIX}{k}.{r}" for r in managed
                            for k in ("actions", "conditions")], changes)
    rules = _dict(obj.get("spec")).get("rules")
    for rule in rules if isinstance(rules, list) else ():
        paths = _dict(_dict(rule).get("http")).get("paths")
        if not isinstance(paths, list):
            continue
        kept = [p for p in paths if _backend(p) not in managed]
        if len(kept) != len(paths):
            changes.append(("spec.rules", "paths of managed routes left by Argo Rollouts "
                            "taken out"))
            rule["http"]["paths"] = kept


def _backend(path: Any) -> str | None:
    service = _dict(_dict(_dict(path).get("backend")).get("service"))
    name = service.get("name")
    use = _dict(service.get("port")).get("name") == "use-annotation"
    return name if use and isinstance(name, str) else None


_CLEANERS = {
    "Service": _service,
    "DestinationRule": _destination_rule,
    "VirtualService": _virtual_service,
    "HTTPRoute": _http_route,
    "Ingress": _ingress,
}
