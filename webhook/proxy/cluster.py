"""Cluster mode: route tables from ConfigMaps, endpoints from EndpointSlices.

``ClusterSource`` is the ``TableSource`` of ``canarist proxy --kubeconfig``. Everything it knows
of the cluster comes from three ``webhook.kube`` informers (list + watch, resumed and relisted by
the informer, cached while the API is away):

- ConfigMaps labelled ``canarist.io/route-table=true``: each holds a route table under
  ``routes.yaml``; they are merged into one (``clusterdata.merge_tables``). A ConfigMap that does
  not parse is logged with its name and skipped; one that was good keeps its last good table;
  the others keep serving.
- Services: the Service port of a ``{service, port}`` backend names the port to use.
- EndpointSlices (label ``kubernetes.io/service-name``): the ready endpoints of each Service.

Every backend resolves to a ``Ring`` shared by every table that uses it. An endpoint change
replaces that ring's items in place (one attribute assignment on the event loop, so between
requests) and rebuilds no table; a ConfigMap change builds a new table, which the proxy swaps in
whole, and routes that did not change keep their split counters. Events arriving together (a
relist) are folded into one update.
"""

from __future__ import annotations

import asyncio
import logging

from webhook.errors import ConfigError
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.informer import Informer, start_all, stop_all
from webhook.kube.protocol import JSON
from webhook.proxy.balance import Ring
from webhook.proxy.clusterdata import Merged, TableSource, merge_tables, service_endpoints
from webhook.proxy.source import Apply, refusal_text
from webhook.proxy.table import Resolver
from webhook.spec.routetable import (
    ROUTE_TABLE_KEY,
    ROUTE_TABLE_LABEL,
    Backend,
    Endpoint,
    Route,
    RouteTable,
    parse_route_table,
)

log = logging.getLogger("canarist.proxy")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ROUTE_TABLE_SELECTOR = f"{ROUTE_TABLE_LABEL}=true"
BY_SERVICE = "service"
Key = tuple[str, str]  # (namespace, name)
RingKey = tuple[str, str, int]  # (namespace, Service, Service port)


def _meta(obj: JSON) -> JSON:
    m = obj.get("metadata") or {}
    return {k: m[k] for k in ("name", "namespace", "resourceVersion", "labels") if k in m}


def _slim_service(obj: JSON) -> JSON:
    """What the proxy reads of a Service (its ports): the cache stays small in big clusters."""
    return {"metadata": _meta(obj), "spec": {"ports": (obj.get("spec") or {}).get("ports")}}


def _slim_slice(obj: JSON) -> JSON:
    return {"metadata": _meta(obj), "addressType": obj.get("addressType"),
            "ports": obj.get("ports"), "endpoints": [
                {"addresses": e.get("addresses"), "conditions": e.get("conditions")}
                for e in obj.get("endpoints") or () if isinstance(e, dict)]}


def _slice_service(obj: JSON) -> list[str]:
    m = obj.get("metadata") or {}
    name = (m.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{m.get('namespace', '')}/{name}"] if name else []


def _key(obj: JSON) -> Key:
    m = obj.get("metadata") or {}
    return str(m.get("namespace") or ""), str(m.get("name") or "")


class ClusterSource:
    """Route tables and endpoints followed in one namespace (``namespace=""``: all of them)."""

    def __init__(self, options: ClientOptions, namespace: str | None = None, *,
                 sync_timeout: float = 30.0, client: KubeClient | None = None) -> None:
        self.options = options
        self.namespace = namespace  # None: the context's; "": every namespace
        self.sync_timeout = sync_timeout
        self.client = client
        self._own_client = client is None
        self._informers: list[Informer] = []
        self._texts: dict[Key, str] = {}  # the text each good table was parsed from
        self._tables: dict[Key, TableSource] = {}
        self._merged = Merged(RouteTable())
        self._notes: frozenset[str] = frozenset()
        self._rings: dict[RingKey, Ring[Endpoint]] = {}
        self._problems: dict[RingKey, str] = {}
        self._dirty_services: set[Key] = set()
        self._tables_dirty = True
        self._scheduled = False
        self._apply: Apply | None = None
        self.updates = 0  # endpoint updates applied in place (for tests and logs)

    @property
    def scope(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "every namespace"

    # --- TableSource ---------------------------------------------------------------------------

    async def open(self) -> tuple[RouteTable, Resolver]:
        if self.client is None:
            self.client = connect(self.options)
        if self.namespace is None:
            self.namespace = self.client.namespace
        ns = self.namespace
        configmaps = Informer(self.client, "v1", "ConfigMap", namespace=ns,
                              label_selector=ROUTE_TABLE_SELECTOR)
        self.services = Informer(self.client, "v1", "Service", namespace=ns,
                                 transform=_slim_service)
        self.slices = Informer(self.client, "discovery.k8s.io/v1", "EndpointSlice",
                               namespace=ns, label_selector=SERVICE_NAME_LABEL,
                               transform=_slim_slice)
        self.slices.add_index(BY_SERVICE, _slice_service)
        configmaps.add_handler(self._on_configmap)
        self.services.add_handler(self._on_service)
        self.slices.add_handler(self._on_slice)
        self._informers = [configmaps, self.services, self.slices]
        if not await start_all(self._informers, within=self.sync_timeout):
            log.warning("route tables from %s: the API server has not answered every list "
                        "within %gs; serving what is known and retrying", self.scope,
                        self.sync_timeout)
        self._flush(apply=False)
        log.info("route tables from %s: %d ConfigMap(s), %d route(s)", self.scope,
                 len(self._tables), len(self._merged.table.routes))
        return self._merged.table, self.resolve

    async def watch(self, apply: Apply) -> None:
        self._apply = apply
        if self._tables_dirty or self._dirty_services:
            self._flush()
        await asyncio.Event().wait()  # the informers' tasks do the work; cancelled at exit

    def reload_now(self) -> None:
        """SIGHUP: build the table again from the cached ConfigMaps."""
        self._tables_dirty = True
        self._schedule()

    async def close(self) -> None:
        self._apply = None
        await stop_all(self._informers)
        if self._own_client and self.client is not None:
            await self.client.aclose()

    # --- resolving backends --------------------------------------------------------------------

    def resolve(self, route: Route, backend: Backend) -> Ring[Endpoint]:
        if backend.service is None:
            return Ring(backend.endpoints)
        key = (self._merged.namespaces.get(route.name, ""), backend.service.service,
               backend.service.port)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = Ring(self._endpoints(key))
        return ring

    def _endpoints(self, key: RingKey) -> tuple[Endpoint, ...]:
        ns, name, port = key
        found = service_endpoints(self.services.get(ns, name), port,
                                  self.slices.by_index(BY_SERVICE, f"{ns}/{name}"),
                                  f"{ns}/{name}")
        if found.problem and self._problems.get(key) != found.problem:
            log.warning("no endpoints for port %d of Service %s/%s: %s", port, ns, name,
                        found.problem)
        self._problems[key] = found.problem
        return found.endpoints

    # --- informer handlers (quick: they only mark what changed) --------------------------------

    def _on_configmap(self, etype: str, obj: JSON, old: JSON | None) -> None:
        key = _key(obj)
        if etype == "DELETED":
            self._texts.pop(key, None)
            if self._tables.pop(key, None) is not None:
                log.info("ConfigMap %s/%s deleted: its routes are gone", *key)
        else:
            self._parse(key, obj)
        self._tables_dirty = True
        self._schedule()

    def _parse(self, key: Key, obj: JSON) -> None:
        text = (obj.get("data") or {}).get(ROUTE_TABLE_KEY)
        if text is not None and text == self._texts.get(key):
            return
        subject = f"ConfigMap {key[0]}/{key[1]} key {ROUTE_TABLE_KEY}"
        try:
            if not isinstance(text, str):
                raise ConfigError(f"no key {ROUTE_TABLE_KEY} in data", subject=subject)
            table = parse_route_table(text, subject)
        except Exception as exc:  # (any content, any bug: the other tables go on)
            kept = "keeping its last good routes" if key in self._tables else "skipped"
            log.error("refused route table: %s: %s; %s", subject, refusal_text(exc), kept)
            return
        self._texts[key] = text
        self._tables[key] = TableSource(key[0], key[1], table)

    def _on_service(self, etype: str, obj: JSON, old: JSON | None) -> None:
        self._dirty_services.add(_key(obj))
        self._schedule()

    def _on_slice(self, etype: str, obj: JSON, old: JSON | None) -> None:
        for value in _slice_service(obj) + (_slice_service(old) if old is not None else []):
            ns, _, name = value.partition("/")
            self._dirty_services.add((ns, name))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    # --- applying changes ---------------------------------------------------------------------

    def _flush(self, apply: bool = True) -> None:
        self._scheduled = False
        rebuilt = self._tables_dirty
        if rebuilt:
            self._tables_dirty = False
            self._rebuild()
        dirty, self._dirty_services = self._dirty_services, set()
        for key, ring in self._rings.items():
            if key[:2] in dirty:
                endpoints = self._endpoints(key)
                if endpoints != ring.items:
                    log.info("endpoints of Service %s/%s port %d: %d ready (%s)", *key,
                             len(endpoints), ", ".join(map(str, endpoints)) or "none")
                    ring.items = endpoints
                    self.updates += 1
        if rebuilt and apply and self._apply is not None:
            self._apply(self._merged.table, self.resolve)
            log.info("route tables from %s applied: %d ConfigMap(s), %d route(s)", self.scope,
                     len(self._tables), len(self._merged.table.routes))

    def _rebuild(self) -> None:
        merged = merge_tables(self._tables.values())
        for note in merged.notes:
            if note not in self._notes:
                log.warning("route tables: %s", note)
        self._notes = frozenset(merged.notes)
        self._merged = merged
        wanted = {
            (merged.namespaces[r.name], b.service.service, b.service.port)
            for r in merged.table.routes for b in r.backends() if b.service is not None
        }
        for key in [k for k in self._rings if k not in wanted]:
            del self._rings[key]
            self._problems.pop(key, None)
