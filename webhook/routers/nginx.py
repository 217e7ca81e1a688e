"""``nginx``: a canary Ingress for ingress-nginx, cloned from the user's (stable) Ingress.

For each Ingress of ``canarist.io/nginx-ingress`` canarist owns ``<deployment>-<ingress>-canary``:

- ``spec``: the stable Ingress's ``ingressClassName`` and ``tls``; its rules that send a path to
  the stable Service, with those backends renamed to the canary Service (other paths of those
  rules kept as they are, as Argo Rollouts does);
- annotations: the ``kubernetes.io/ingress.class`` annotation when the stable Ingress has one,
  the extra annotations of ``canarist.io/nginx-annotations``, then canarist's own (which win):
  ``canary: "true"``, ``canary-weight``, a header route as ``canary-by-header`` with
  ``canary-by-header-value`` (exact) or ``canary-by-header-pattern`` (prefix and regex, anchored),
  and with ``canarist.io/sticky`` cookie session affinity (``nginx_affinity``);
- an ownerReference to the Deployment (garbage-collected with it).

The canary Ingress exists whenever it routes something: a weight above 0, a header route in
force, or — during a release — static ``canary-by-header``/``canary-by-cookie`` annotations among
the extras (then at ``canary-weight: "0"``, as Argo Rollouts keeps it). It is **deleted** when the
release ends (``update_hash`` with equal hashes, weight 0, no header route), on
``remove_managed_routes`` at weight 0 without static routes, and on ``cleanup`` — never left behind
(Argo Rollouts #4751). ingress-nginx takes one header per canary Ingress, so one header route at a
time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from webhook.errors import RouterError
from webhook.kube.protocol import JSON, ObjectClient, ObjectRef
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import ReleaseTarget
from webhook.routers.nginx_affinity import canary_affinity, stable_with_affinity
from webhook.routers.objects import (
    Record,
    Records,
    deep,
    describe,
    meta,
    new_object,
    owned_by,
    store_record,
    truncate_name,
)
from webhook.spec import CAPABILITIES, HeaderMatch, SetHeaderRoute
from webhook.spec.matches import regex_escape
from webhook.spec.names import NGINX_INGRESS
from webhook.spec.options import NGINX_PREFIX

capabilities = CAPABILITIES["nginx"]
API_VERSION = "networking.k8s.io/v1"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
CANARY = NGINX_PREFIX + "canary"
WEIGHT = NGINX_PREFIX + "canary-weight"
WEIGHT_TOTAL = NGINX_PREFIX + "canary-weight-total"
BY_HEADER = NGINX_PREFIX + "canary-by-header"
BY_HEADER_VALUE = NGINX_PREFIX + "canary-by-header-value"
BY_HEADER_PATTERN = NGINX_PREFIX + "canary-by-header-pattern"
BY_COOKIE = NGINX_PREFIX + "canary-by-cookie"
STATIC_ROUTES = (BY_HEADER, BY_COOKIE)


def canary_ingress_name(owner: str, stable_ingress: str) -> str:
    return truncate_name(f"{owner}-{stable_ingress}", "-canary")


@dataclass(frozen=True)
class CanaryState:
    """What the canary Ingress carries: the weight and the header route in force (its name and
    annotations); ``held``: a release is on, so static routes keep the Ingress at weight 0."""

    weight: int = 0
    header_route: str | None = None
    header: tuple[tuple[str, str], ...] = ()
    held: bool = False

    def routes_traffic(self, target: ReleaseTarget) -> bool:
        return (
            self.weight > 0
            or self.header_route is not None
            or (self.held and has_static_routes(target))
        )


def has_static_routes(target: ReleaseTarget) -> bool:
    """``canary-by-header``/``canary-by-cookie`` among ``canarist.io/nginx-annotations``: routes
    that hold for the whole release."""
    return any(key in STATIC_ROUTES for key, _ in target.spec.options.nginx_annotations)


def read_state(current: JSON | None, owner: str) -> CanaryState:
    """The state the canary Ingress carries; one that exists is held (a release made it)."""
    if current is None:
        return CanaryState()
    ann = meta(current).get("annotations") or {}
    try:
        weight = int(ann.get(WEIGHT, "0"))
    except ValueError:
        weight = 0
    record = Records.of(current).get(owner)
    route = record.route_names[0] if record.route_names else None
    header = tuple((k, ann[k]) for k in (BY_HEADER, BY_HEADER_VALUE, BY_HEADER_PATTERN) if k in ann)
    return CanaryState(weight, route, header if route else (), held=True)


def header_annotations(match: HeaderMatch) -> tuple[tuple[str, str], ...]:
    """One header match as ingress-nginx annotations (patterns anchored: a full match)."""
    if match.value.kind == "exact":
        return ((BY_HEADER, match.name), (BY_HEADER_VALUE, match.value.value))
    if match.value.kind == "prefix":
        pattern = "^" + regex_escape(match.value.value) + ".*"
    else:
        pattern = "^(?:" + match.value.value + ")$"
    return ((BY_HEADER, match.name), (BY_HEADER_PATTERN, pattern))


def with_header_route(state: CanaryState, step: SetHeaderRoute, where: str) -> CanaryState:
    if not step.matches:
        if state.header_route != step.name:
            return state
        return replace(state, header_route=None, header=())
    if state.header_route not in (None, step.name):
        raise RouterError(
            f"{where}: ingress-nginx takes one header route per canary Ingress and route "
            f"{state.header_route!r} is in force; remove it (setHeaderRoute without match) "
            f"before setting {step.name!r}"
        )
    if len(step.matches) != 1:
        raise RouterError(
            f"{where}: ingress-nginx matches one header per route, route {step.name!r} has "
            f"{len(step.matches)}"
        )
    return replace(state, header_route=step.name, header=header_annotations(step.matches[0]))


def _service_name(path: Any) -> str:
    return str((((path or {}).get("backend") or {}).get("service") or {}).get("name", ""))


def canary_rules(stable: JSON, stable_service: str, canary_service: str) -> list[Any]:
    """The stable Ingress's rules that use the stable Service, backends renamed."""
    out = []
    for original in (stable.get("spec") or {}).get("rules") or []:
        paths = ((original or {}).get("http") or {}).get("paths") or []
        if not any(_service_name(p) == stable_service for p in paths):
            continue
        rule = deep(original)
        for path in rule["http"]["paths"]:
            if _service_name(path) == stable_service:
                path["backend"]["service"]["name"] = canary_service
        out.append(rule)
    if not out:
        raise RouterError(
            f"{describe(stable)} has no rule sending a path to Service {stable_service!r} "
            "(spec.rules[].http.paths[].backend.service.name)"
        )
    return out


def desired_canary(
    stable: JSON, current: JSON | None, target: ReleaseTarget, state: CanaryState
) -> JSON | None:
    """The canary Ingress carrying ``state``; ``None`` when it routes nothing (delete it)."""
    owner = target.owner
    if current is not None and not owned_by(current, owner):
        raise RouterError(
            f"canary {describe(current)} exists and is not owned by Deployment {owner.name!r}; "
            "rename or delete it"
        )
    if not state.routes_traffic(target):
        return None
    name = canary_ingress_name(owner.name, str(meta(stable).get("name")))
    obj = current or new_object(API_VERSION, "Ingress", target.namespace, name, owner)
    obj["apiVersion"] = API_VERSION
    spec: dict[str, Any] = {}
    stable_spec = stable.get("spec") or {}
    if stable_spec.get("ingressClassName"):
        spec["ingressClassName"] = stable_spec["ingressClassName"]
    if stable_spec.get("tls"):
        spec["tls"] = deep(stable_spec["tls"])
    spec["rules"] = canary_rules(stable, target.stable_service, target.canary_service)
    obj["spec"] = spec
    ours = _annotations(stable, target, state)
    previous = Records.of(obj).get(owner.name).annotations
    ann = {k: v for k, v in (meta(obj).get("annotations") or {}).items() if k not in previous}
    ann.update(ours)
    meta(obj)["annotations"] = ann
    routes = ((state.header_route, (state.header_route,)),) if state.header_route else ()
    return store_record(obj, owner.name, Record(routes=routes, annotations=tuple(sorted(ours))))


def _annotations(stable: JSON, target: ReleaseTarget, state: CanaryState) -> dict[str, str]:
    out: dict[str, str] = {}
    stable_class = (meta(stable).get("annotations") or {}).get(CLASS_ANNOTATION)
    if stable_class:
        out[CLASS_ANNOTATION] = stable_class
    out.update(dict(target.spec.options.nginx_annotations))
    if WEIGHT_TOTAL in out:
        out[WEIGHT_TOTAL] = "100"  # canarist's weights are percentages
    out[CANARY] = "true"
    out[WEIGHT] = str(state.weight)
    if state.header_route:  # replaces a static header route of the extra annotations
        for key in (BY_HEADER, BY_HEADER_VALUE, BY_HEADER_PATTERN):
            out.pop(key, None)
        out.update(dict(state.header))
    if target.spec.sticky is not None:
        out.update(canary_affinity(target.spec.sticky))
    return out


class NginxRouter(RouterAdapter):
    name = "nginx"
    capabilities = capabilities

    def __init__(self, target: ReleaseTarget, client: ObjectClient) -> None:
        super().__init__(target, client)
        # whether a release is on, as the last ``update_hash`` of this reconcile said (None: not
        # called yet; an existing canary Ingress is then taken as made by a release)
        self.held: bool | None = None

    async def _each(self, change: Callable[[CanaryState, str], CanaryState]) -> None:
        for name in self.target.spec.options.nginx_ingresses:
            stable_ref = self.ref(API_VERSION, "Ingress", name)
            stable = await self.client.get(stable_ref)
            if stable is None:
                raise RouterError(f"{stable_ref} not found (named by {NGINX_INGRESS})")
            canary_ref = self.ref(API_VERSION, "Ingress", canary_ingress_name(self.owner, name))
            where = f"canary {canary_ref}"

            def compute(cur: JSON | None, stable: JSON = stable, where: str = where) -> JSON | None:
                state = read_state(cur, self.owner)
                if self.held is not None:
                    state = replace(state, held=self.held)
                state = change(state, where)
                return desired_canary(stable, cur, self.target, state)

            canary = await self.sync(canary_ref, compute)
            await self._stable_affinity(stable, canary is not None)

    async def _stable_affinity(self, stable: JSON, canary_exists: bool) -> None:
        """The stable Ingress carries canarist's cookie affinity exactly while a canary Ingress
        does (ingress-nginx takes a canary's affinity from its main Ingress)."""
        sticky = self.target.spec.sticky if canary_exists else None
        if sticky is None and self.owner not in Records.of(stable).by_owner:
            return  # nothing of ours there, nothing to add: no write, no read

        def compute(cur: JSON | None) -> JSON | None:
            return None if cur is None else stable_with_affinity(cur, self.owner, sticky)

        await self.sync(ObjectRef.of(stable), compute, required=NGINX_INGRESS)

    async def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        self.held = canary_hash != stable_hash  # equal hashes: no release (any more)
        await self._each(lambda s, _: s)

    async def set_weight(self, weight: int) -> None:
        await self._each(lambda s, _: replace(s, weight=weight))

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        await self._each(lambda s, where: with_header_route(s, route, where))

    async def remove_managed_routes(self) -> None:
        await self._each(lambda s, _: replace(s, header_route=None, header=()))

    async def cleanup(self) -> None:
        for name in self.target.spec.options.nginx_ingresses:
            ref = self.ref(API_VERSION, "Ingress", canary_ingress_name(self.owner, name))

            def compute(cur: JSON | None) -> JSON | None:
                return cur if cur is not None and not owned_by(cur, self.target.owner) else None

            await self.sync(ref, compute)
            stable_ref = self.ref(API_VERSION, "Ingress", name)
            await self.sync(
                stable_ref,
                lambda cur: None if cur is None else stable_with_affinity(cur, self.owner, None),
            )
