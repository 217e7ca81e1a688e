"""Cluster mode's decisions, as pure functions over the objects the informers hold.

- ``merge_tables``: the route tables of every route-table ConfigMap become one table, in a
  fixed order (namespace, then ConfigMap name), so the same objects always give the same table
  however the watch events arrived. A host and path prefix already served by an earlier table
  are dropped from the later route (a route left serving nothing is skipped); a route name taken
  by an earlier table is qualified with its namespace (``web`` -> ``web.team-b``). Each such
  decision comes back as a note for the log.
- ``service_endpoints``: the ready endpoints of a Service port, as kube-proxy finds them: the
  Service port's name picks the port of each EndpointSlice (slices carry the resolved target
  port of every pod), endpoints whose ``ready`` condition is true or unset are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from webhook.spec.routetable import Endpoint, Route, RouteTable

JSON = Mapping[str, Any]
ANY_HOST = "*"  # the key of a route without hosts


@dataclass(frozen=True)
class TableSource:
    """The parsed table of one route-table ConfigMap."""

    namespace: str
    name: str
    table: RouteTable

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Merged:
    table: RouteTable
    namespaces: Mapping[str, str] = field(default_factory=dict)  # route name -> its namespace
    notes: tuple[str, ...] = ()


def merge_tables(sources: Iterable[TableSource]) -> Merged:
    """One table out of many; conflicts resolved by the order (namespace, ConfigMap name)."""
    routes: list[Route] = []
    namespaces: dict[str, str] = {}
    served: dict[tuple[str, str], str] = {}  # (host, prefix) -> who serves it
    notes: list[str] = []
    for src in sorted(sources, key=lambda s: (s.namespace, s.name)):
        for route in src.table.routes:
            who = f"route {route.name!r} of {src.where}"
            name = route.name
            if name in namespaces:
                name = f"{route.name}.{src.namespace}"
                if name in namespaces:
                    notes.append(f"{who}: route name taken twice; skipped")
                    continue
                notes.append(f"{who}: route name {route.name!r} is taken in namespace "
                             f"{namespaces[route.name]!r}; serving it as {name!r}")
            keys = route.hosts or (ANY_HOST,)
            kept = []
            for host in keys:
                owner = served.get((host, route.path_prefix))
                if owner is None:
                    kept.append(host)
                    continue
                shown = "any host" if host == ANY_HOST else f"host {host!r}"
                notes.append(f"{who}: {shown} with pathPrefix {route.path_prefix!r} is already "
                             f"served by {owner}; ignored here")
            if not kept:
                notes.append(f"{who}: nothing left to serve; skipped")
                continue
            for host in kept:
                served[(host, route.path_prefix)] = who
            hosts = tuple(kept) if route.hosts else ()
            routes.append(replace(route, name=name, hosts=hosts))
            namespaces[name] = src.namespace
    return Merged(RouteTable(tuple(routes)), namespaces, tuple(notes))


# --- endpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The endpoints of one Service port, or why there are none."""

    endpoints: tuple[Endpoint, ...] = ()
    problem: str = ""


def _map(value: Any) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[JSON]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _ports(service: JSON) -> list[JSON]:
    return _items(_map(service.get("spec")).get("ports"))


def _tcp(entry: JSON) -> bool:
    return (entry.get("protocol") or "TCP") == "TCP"


def service_port_name(service: JSON | None, port: int) -> str | None:
    """The name of the Service's port ``port`` (``""`` when unnamed); None when it has none."""
    for entry in _ports(service or {}):
        if entry.get("port") == port and _tcp(entry):
            return str(entry.get("name") or "")
    return None


def slice_port(slice_: JSON, name: str) -> int | None:
    """The port number a slice gives the Service port named ``name``."""
    for entry in _items(slice_.get("ports")):
        number = entry.get("port")
        if (_tcp(entry) and (entry.get("name") or "") == name and type(number) is int
                and 0 < number < 65536):
            return number
    return None


def is_ready(endpoint: JSON) -> bool:
    """``conditions.ready``: an unset condition counts as ready (the API's documented reading)."""
    return _map(endpoint.get("conditions")).get("ready") is not False


def service_endpoints(service: JSON | None, port: int, slices: Sequence[JSON],
                      where: str) -> Resolved:
    """The ready endpoints of port ``port`` of a Service, from its EndpointSlices.

    Slices are read in name order and duplicates (an endpoint moving between slices) dropped,
    so the same objects always give the same tuple, in the same round-robin order.
    """
    if service is None:
        return Resolved(problem=f"Service {where} not found")
    name = service_port_name(service, port)
    if name is None:
        ports = sorted(p["port"] for p in _ports(service) if type(p.get("port")) is int)
        return Resolved(problem=f"Service {where} has no TCP port {port} "
                                f"(ports: {', '.join(map(str, ports)) or 'none'})")
    out: list[Endpoint] = []
    seen: set[Endpoint] = set()
    for slice_ in sorted(slices, key=lambda s: str(_map(s.get("metadata")).get("name"))):
        if slice_.get("addressType") not in ("IPv4", "IPv6"):
            continue
        number = slice_port(slice_, name)
        if number is None:
            continue
        for endpoint in _items(slice_.get("endpoints")):
            addresses = endpoint.get("addresses")
            if not isinstance(addresses, list) or not addresses or not is_ready(endpoint):
                continue
            ep = Endpoint(str(addresses[0]), number)
            if ep not in seen:
                seen.add(ep)
                out.append(ep)
    return Resolved(tuple(out))
