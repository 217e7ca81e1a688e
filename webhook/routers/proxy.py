"""``proxy``: the route table canarist's own proxy serves, in a ConfigMap canarist owns.

One ConfigMap per Deployment, ``<deployment>-canarist-routes``, labelled
``canarist.io/route-table: "true"``, key ``routes.yaml``: the routes file format of
``webhook.spec.routetable`` (``docs/route-table.md``) with one route named after the Deployment,
serving the hosts of ``canarist.io/proxy-hosts`` (none: any host), whose backends are the stable
and canary Services (``{service, port}``, the stable Service's port) instead of fixed endpoints.
Weight, header routes, the mirror, the sticky cookie and both hashes live in that route. The
table holds one mirror per route: setting a mirror route replaces the one in force.

The ConfigMap stays after a release (the proxy needs the route to serve stable traffic); it goes
with the Deployment (ownerReference) or on ``cleanup``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from webhook.errors import ConfigError, RouterError
from webhook.kube.protocol import JSON, ObjectRef
from webhook.routers.adapter import RouterAdapter
from webhook.routers.base import ReleaseTarget
from webhook.routers.objects import (
    Record,
    Records,
    meta,
    new_object,
    owned_by,
    store_record,
    truncate_name,
)
from webhook.routers.tablecache import TableCache
from webhook.spec import CAPABILITIES, SetHeaderRoute, SetMirrorRoute
from webhook.spec.names import ROUTE_TABLE_LABEL, STABLE_SERVICE
from webhook.spec.routetable import (
    ROUTE_TABLE_KEY,
    Backend,
    HeaderRoute,
    MirrorRoute,
    Route,
    RouteTable,
    ServiceRef,
    Sticky,
    parse_route_table,
    route_table_to_dict,
)

capabilities = CAPABILITIES["proxy"]
Change = Callable[[Route, Record], tuple[Route, Record]]


def configmap_name(target: ReleaseTarget) -> str:
    return truncate_name(target.owner.name, "-canarist-routes")


def route_name(target: ReleaseTarget) -> str:
    return target.owner.name[:63].rstrip("-.")


def service_port(service: JSON) -> int:
    """The stable Service's port the proxy connects to: the one named ``http``, else the first."""
    ports = (service.get("spec") or {}).get("ports") or []
    if not ports:
        raise RouterError(f"Service {_where(service)} has no ports (spec.ports)")
    named = [p for p in ports if p.get("name") == "http"]
    return int((named or ports)[0]["port"])


def _where(obj: JSON) -> str:
    m = obj.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}"


def base_route(target: ReleaseTarget, port: int, current: Route | None) -> Route:
    """The route from the target (hosts, backends, sticky), keeping the state ``current`` holds
    (weight, header routes, mirror, hashes)."""
    sticky = target.spec.sticky
    fresh = Route(
        name=route_name(target),
        stable=Backend(service=ServiceRef(target.stable_service, port)),
        canary=Backend(service=ServiceRef(target.canary_service, port)),
        hosts=target.spec.options.proxy_hosts,
        sticky=Sticky(sticky.cookie, sticky.max_age) if sticky else None,
    )
    if current is None:
        return fresh
    return replace(
        fresh,
        weight=current.weight,
        header_routes=current.header_routes,
        mirror=current.mirror,
        canary_hash=current.canary_hash,
        stable_hash=current.stable_hash,
    )


# Tables by ConfigMap and resourceVersion: a steady reconcile parses and dumps no YAML.
_TABLES = TableCache()


def read_route(cm: JSON, name: str) -> Route | None:
    def parse(text: str) -> RouteTable:
        try:
            return parse_route_table(text, f"ConfigMap {_where(cm)} key {ROUTE_TABLE_KEY}")
        except ConfigError as exc:
            raise RouterError(f"{exc}; the table is written by canarist: delete the key") from exc

    table = _TABLES.table(cm, parse)
    if table is None:
        return None
    return next((r for r in table.routes if r.name == name), None)


def desired_configmap(
    current: JSON | None, target: ReleaseTarget, port: int, change: Change
) -> tuple[JSON, RouteTable]:
    """The ConfigMap ``change`` makes of ``current``, and the table it holds."""
    owner = target.owner
    if current is None:
        obj = new_object("v1", "ConfigMap", target.namespace, configmap_name(target), owner)
        route_now = None
    elif not owned_by(current, owner):
        raise RouterError(
            f"ConfigMap {_where(current)} exists and is not owned by Deployment {owner.name!r}; "
            "rename or delete it"
        )
    else:
        obj = current
        route_now = read_route(current, route_name(target))
    route, record = change(base_route(target, port, route_now), Records.of(obj).get(owner.name))
    table = RouteTable((route,))
    text = _TABLES.text(current, table)  # before ``obj`` (``current`` itself) is rewritten
    meta(obj).setdefault("labels", {})[ROUTE_TABLE_LABEL] = "true"
    obj["data"] = {ROUTE_TABLE_KEY: text}
    return store_record(obj, owner.name, record), table


# --- changes (pure) ----------------------------------------------------------------------------


def weight_change(weight: int) -> Change:
    return lambda route, record: (replace(route, weight=weight), record)


def hash_change(canary_hash: str, stable_hash: str) -> Change:
    return lambda route, record: (
        replace(route, canary_hash=canary_hash, stable_hash=stable_hash),
        record,
    )


def header_change(step: SetHeaderRoute) -> Change:
    def change(route: Route, record: Record) -> tuple[Route, Record]:
        routes = [h for h in route.header_routes if h.name != step.name]
        if not step.matches:
            return replace(route, header_routes=tuple(routes)), record.without_route(step.name)
        new = HeaderRoute(step.name, step.matches)
        existing = [h.name for h in route.header_routes]
        if step.name in existing:
            routes.insert(existing.index(step.name), new)
        else:
            routes.append(new)
        return replace(route, header_routes=tuple(routes)), record.with_route(
            step.name, [step.name]
        )

    return change


def mirror_change(step: SetMirrorRoute) -> Change:
    def change(route: Route, record: Record) -> tuple[Route, Record]:
        mirrors = [name for name in record.route_names if _is_mirror(record, name)]
        if not step.matches:
            if step.name not in mirrors:
                return route, record
            return replace(route, mirror=None), record.without_route(step.name)
        for name in mirrors:
            record = record.without_route(name)
        mirror = MirrorRoute(step.percentage, step.matches)
        return replace(route, mirror=mirror), record.with_route(step.name, [_MIRROR_MARK])

    return change


# The proxy's route has one unnamed mirror; the record marks which step route it is.
_MIRROR_MARK = "mirror"


def _is_mirror(record: Record, name: str) -> bool:
    return record.written_for(name) == (_MIRROR_MARK,)


def clear_change() -> Change:
    def change(route: Route, record: Record) -> tuple[Route, Record]:
        return replace(route, header_routes=(), mirror=None), Record()

    return change


class ProxyRouter(RouterAdapter):
    name = "proxy"
    capabilities = capabilities

    def _cm(self) -> ObjectRef:
        return self.ref("v1", "ConfigMap", configmap_name(self.target))

    async def _port(self) -> int:
        service = await self.client.get(self.ref("v1", "Service", self.target.stable_service))
        if service is None:
            raise RouterError(
                f"Service {self.target.namespace}/{self.target.stable_service} not found "
                f"(the stable Service, {STABLE_SERVICE})"
            )
        return service_port(service)

    async def _apply(self, change: Change) -> None:
        port = await self._port()
        made: list[tuple[RouteTable, str]] = []

        def compute(cur: JSON | None) -> JSON:
            obj, table = desired_configmap(cur, self.target, port, change)
            made.append((table, obj["data"][ROUTE_TABLE_KEY]))
            return obj

        written = await self.sync(self._cm(), compute)
        if made:
            _TABLES.written(written, *made[-1])

    async def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        await self._apply(hash_change(canary_hash, stable_hash))

    async def set_weight(self, weight: int) -> None:
        await self._apply(weight_change(weight))

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        await self._apply(header_change(route))

    async def set_mirror_route(self, route: SetMirrorRoute) -> None:
        await self._apply(mirror_change(route))

    async def remove_managed_routes(self) -> None:
        await self._apply(clear_change())

    async def cleanup(self) -> None:
        owner = self.target.owner

        def compute(cur: JSON | None) -> JSON | None:
            return cur if cur is not None and not owned_by(cur, owner) else None

        await self.sync(self._cm(), compute)


def routes_of(cm: JSON) -> dict[str, Any]:
    """The route table held by a route-table ConfigMap, as plain data (for tests and render)."""
    text = (cm.get("data") or {}).get(ROUTE_TABLE_KEY, "routes: []")
    return route_table_to_dict(parse_route_table(text))
