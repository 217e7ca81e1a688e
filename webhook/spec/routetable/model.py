"""The route table's model: frozen dataclasses shared by the parser, the writer and the proxy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from webhook.spec.matches import HeaderMatch, MirrorMatch

ROUTE_TABLE_LABEL = "canarist.io/route-table"
ROUTE_TABLE_KEY = "routes.yaml"
DEFAULT_STICKY_MAX_AGE = 3600


class Endpoint(NamedTuple):
    """One upstream address (a named tuple: it hashes and compares in C, and the proxy looks its
    pooled connections up by it on every request)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ServiceRef:
    """A Service whose ready endpoints (EndpointSlices) are the upstreams, in cluster mode."""

    service: str
    port: int


@dataclass(frozen=True)
class Backend:
    """Where one version's traffic goes: fixed endpoints, or a Service resolved in the cluster."""

    endpoints: tuple[Endpoint, ...] = ()
    service: ServiceRef | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.service is not None:
            return {"service": self.service.service, "port": self.service.port}
        return {"endpoints": [str(e) for e in self.endpoints]}


@dataclass(frozen=True)
class HeaderRoute:
    """Requests whose headers all match go to the canary."""

    name: str
    match: tuple[HeaderMatch, ...]


@dataclass(frozen=True)
class MirrorRoute:
    """Copy matching requests (any match; none = every request) to the canary."""

    percentage: int
    match: tuple[MirrorMatch, ...] = ()


@dataclass(frozen=True)
class Sticky:
    cookie: str
    max_age: int = DEFAULT_STICKY_MAX_AGE


@dataclass(frozen=True)
class Route:
    name: str
    stable: Backend
    canary: Backend | None = None
    hosts: tuple[str, ...] = ()
    path_prefix: str = "/"
    weight: int = 0
    header_routes: tuple[HeaderRoute, ...] = ()
    mirror: MirrorRoute | None = None
    sticky: Sticky | None = None
    canary_hash: str = ""
    stable_hash: str = ""

    def backends(self) -> tuple[Backend, ...]:
        return (self.stable,) if self.canary is None else (self.stable, self.canary)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...] = ()

    def service_refs(self) -> frozenset[ServiceRef]:
        return frozenset(
            b.service for r in self.routes for b in r.backends() if b.service is not None
        )
