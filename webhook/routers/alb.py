"""``alb``: AWS Load Balancer Controller annotations on the user's Ingress, as Argo Rollouts
writes them.

The Ingress named by ``canarist.io/alb-ingress`` must have a path whose backend is the root
Service (``canarist.io/alb-root-service``, default the stable Service) with port name
``use-annotation``; canarist writes that action::

    alb.ingress.kubernetes.io/actions.<root>:
      {"Type":"forward","ForwardConfig":{"TargetGroups":[
        {"ServiceName":"<canary>","ServicePort":"<port>","Weight":W},
        {"ServiceName":"<stable>","ServicePort":"<port>","Weight":100-W}]}}

(canary first, ``ServicePort`` a string, weight 0 still written; with ``canarist.io/sticky`` a
``TargetGroupStickinessConfig``). A header route ``r`` adds ``actions.r`` (all traffic to the
canary), ``conditions.r`` (``http-header`` conditions, values of one header merged) and, in each
rule holding a root path, a path in front of it with backend ``r``/``use-annotation``. Every other
annotation and path of the user is left as it is. Mirroring: not supported by ALB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from webhook.errors import RouterError
from webhook.kube.protocol import JSON
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import ReleaseTarget
from webhook.routers.matching import split_pair
from webhook.routers.objects import (
    Record,
    Records,
    annotations_of,
    check_route_free,
    describe,
    drop_empty_annotations,
    store_record,
)
from webhook.spec import CAPABILITIES, HeaderMatch, SetHeaderRoute, Sticky
from webhook.spec.names import ALB_INGRESS, ALB_ROOT_SERVICE, ALB_SERVICE_PORT
from webhook.spec.options import ALB_PREFIX

capabilities = CAPABILITIES["alb"]
PREFIX = ALB_PREFIX
USE_ANNOTATION = "use-annotation"
MAX_STICKY_SECONDS = 604800


def action_key(name: str) -> str:
    return f"{PREFIX}actions.{name}"


def conditions_key(name: str) -> str:
    return f"{PREFIX}conditions.{name}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def target_group(service: str, port: int, weight: int) -> dict[str, Any]:
    return {"ServiceName": service, "ServicePort": str(port), "Weight": weight}


def forward_action(groups: list[dict[str, Any]], sticky: Sticky | None = None) -> str:
    forward: dict[str, Any] = {"TargetGroups": groups}
    if sticky is not None:
        seconds = min(max(sticky.max_age, 1), MAX_STICKY_SECONDS)
        forward["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": seconds}
    return _compact({"Type": "forward", "ForwardConfig": forward})


def weight_action(
    canary: str, stable: str, port: int, weight: int, sticky: Sticky | None = None
) -> str:
    stable_weight, canary_weight = split_pair(100, weight)
    groups = [target_group(canary, port, canary_weight), target_group(stable, port, stable_weight)]
    return forward_action(groups, sticky)


def header_conditions(matches: Iterable[HeaderMatch], where: str) -> str:
    """``http-header`` conditions; matches on one header (any case) merge their values."""
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for match in matches:
        if match.value.kind != "exact":
            raise RouterError(
                f"{where}: ALB matches header values exactly only, got {match.value.kind} "
                f"for {match.name!r}"
            )
        names.setdefault(match.key, match.name)
        values.setdefault(match.key, []).append(match.value.value)
    return _compact(
        [
            {
                "field": "http-header",
                "httpHeaderConfig": {"httpHeaderName": names[key], "values": values[key]},
            }
            for key in names
        ]
    )


# --- Ingress paths -----------------------------------------------------------------------------


def _backend_service(path: Any) -> tuple[str, str]:
    service = ((path or {}).get("backend") or {}).get("service") or {}
    return str(service.get("name", "")), str((service.get("port") or {}).get("name", ""))


def _paths(rule: Any) -> list[dict[str, Any]]:
    paths = ((rule or {}).get("http") or {}).get("paths")
    return paths if isinstance(paths, list) else []


def annotation_path(path: dict[str, Any], service: str) -> dict[str, Any]:
    """A copy of ``path`` (its path and pathType) sending to the ``service`` action."""
    out: dict[str, Any] = {"path": path.get("path", "/*")}
    out["pathType"] = path.get("pathType", "ImplementationSpecific")
    out["backend"] = {"service": {"name": service, "port": {"name": USE_ANNOTATION}}}
    return out


def root_rules(ingress: JSON, root: str) -> list[int]:
    """Indexes of the rules holding a path to the root action; ``RouterError`` when none does."""
    rules = (ingress.get("spec") or {}).get("rules") or []
    found = [
        i
        for i, rule in enumerate(rules)
        if any(_backend_service(p) == (root, USE_ANNOTATION) for p in _paths(rule))
    ]
    if not found:
        raise RouterError(
            f"{describe(ingress)} has no path whose backend is Service {root!r} with port name "
            f"{USE_ANNOTATION!r} (spec.rules[].http.paths[].backend.service); the ALB controller "
            f"reads the action {action_key(root)} through such a path"
        )
    return found


def _set_paths(ingress: JSON, root: str, record: Record, route: str, *, add: bool) -> None:
    """Drop ``route``'s managed paths, add them again in front of each root path when ``add``,
    then put this owner's managed paths first, in the record's order."""
    order = {name: i for i, name in enumerate(record.route_names)}
    in_root_rules = set(root_rules(ingress, root)) if add else set()

    def managed(path: Any) -> str | None:
        name, port = _backend_service(path)
        return name if port == USE_ANNOTATION and name in order else None

    for i, rule in enumerate((ingress.get("spec") or {}).get("rules") or []):
        paths = _paths(rule)
        if not paths:
            continue
        kept = [p for p in paths if _backend_service(p) != (route, USE_ANNOTATION)]
        if i in in_root_rules:
            roots = [p for p in kept if _backend_service(p) == (root, USE_ANNOTATION)]
            kept = [annotation_path(p, route) for p in roots] + kept
        ours = sorted((p for p in kept if managed(p)), key=lambda p: order[managed(p) or ""])
        rule["http"]["paths"] = ours + [p for p in kept if not managed(p)]


# --- whole-object changes (pure) ---------------------------------------------------------------


def root_service(target: ReleaseTarget) -> str:
    return target.spec.options.alb_root_service or target.stable_service


def _port(target: ReleaseTarget) -> int:
    port = target.spec.options.alb_service_port
    if port is None:
        raise RouterError(f"{ALB_SERVICE_PORT} is required with traffic router alb")
    return port


def with_weight(ingress: JSON, target: ReleaseTarget, weight: int) -> JSON:
    root = root_service(target)
    root_rules(ingress, root)
    records = Records.of(ingress)
    key = action_key(root)
    for other, rec in sorted(records.others(target.owner.name).items()):
        if key in rec.annotations:
            raise RouterError(
                f"{describe(ingress)}: annotation {key} is already managed for Deployment "
                f"{other!r}; set {ALB_ROOT_SERVICE} to a Service of its own"
            )
    annotations_of(ingress)[key] = weight_action(
        target.canary_service, target.stable_service, _port(target), weight, target.spec.sticky
    )
    record = records.get(target.owner.name)
    return store_record(
        ingress, target.owner.name, record.with_annotations((*record.annotations, key))
    )


def with_header_route(ingress: JSON, target: ReleaseTarget, step: SetHeaderRoute) -> JSON:
    owner = target.owner.name
    records = Records.of(ingress)
    record = records.get(owner)
    keys = (action_key(step.name), conditions_key(step.name))
    ann = annotations_of(ingress)
    if step.matches:
        check_route_free(records, owner, [step.name], describe(ingress))
        groups = [target_group(target.canary_service, _port(target), 100)]
        ann[keys[0]] = forward_action(groups)
        ann[keys[1]] = header_conditions(step.matches, f"{describe(ingress)} route {step.name!r}")
        record = record.with_route(step.name, [step.name])
        record = record.with_annotations((*record.annotations, *keys))
        _set_paths(ingress, root_service(target), record, step.name, add=True)
    elif step.name in record.route_names:
        for key in keys:
            ann.pop(key, None)
        _set_paths(ingress, root_service(target), record, step.name, add=False)
        record = record.without_route(step.name)
        record = record.with_annotations(k for k in record.annotations if k not in keys)
    drop_empty_annotations(ingress)
    return store_record(ingress, owner, record)


def without_routes(ingress: JSON, target: ReleaseTarget) -> JSON:
    for name in Records.of(ingress).get(target.owner.name).route_names:
        ingress = with_header_route(ingress, target, SetHeaderRoute(name))
    return ingress


def released(ingress: JSON, target: ReleaseTarget) -> JSON:
    """Routes removed, the root action back to the stable Service alone, the record dropped."""
    ingress = without_routes(ingress, target)
    record = Records.of(ingress).get(target.owner.name)
    key = action_key(root_service(target))
    if key in record.annotations:
        groups = [target_group(target.stable_service, _port(target), 100)]
        annotations_of(ingress)[key] = forward_action(groups)
    return store_record(ingress, target.owner.name, None)


class ALBRouter(RouterAdapter):
    name = "alb"
    capabilities = capabilities

    async def _each(self, change: Callable[[JSON], JSON]) -> None:
        for name in self.target.spec.options.alb_ingresses:
            ref = self.ref("networking.k8s.io/v1", "Ingress", name)
            await self.sync(
                ref, lambda cur: None if cur is None else change(cur), required=ALB_INGRESS
            )

    async def set_weight(self, weight: int) -> None:
        await self._each(lambda ing: with_weight(ing, self.target, weight))

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        await self._each(lambda ing: with_header_route(ing, self.target, route))

    async def remove_managed_routes(self) -> None:
        await self._each(lambda ing: without_routes(ing, self.target))

    async def cleanup(self) -> None:
        await self._each(lambda ing: released(ing, self.target))
