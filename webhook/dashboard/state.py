"""The dashboard's state, shared by every request: options, the cache, and what reads need.

``Dashboard`` answers the questions handlers and streams ask: the rows a user may see (memoized
per release and recomputed only when the change feed says the release changed), one release's
detail page, and which namespaces a token may read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from webhook.dashboard import access as acl
from webhook.dashboard.access import AccessCache
from webhook.dashboard.cache import Key, ReleaseCache
from webhook.dashboard.detail import detail
from webhook.dashboard.rates import RatesPoller, route_name
from webhook.dashboard.summary import summary
from webhook.kube.client import KubeClient
from webhook.kube.informer import key_of
from webhook.kube.users import Access, UserClients
from webhook.spec.names import TRAFFIC_ROUTER

AUTH_MODES = ("none", "token")


@dataclass(frozen=True)
class Options:
    read_only: bool = False
    auth: str = "none"  # or "token"
    proxy_admin_url: str | None = None
    namespace: str = ""  # "" : every namespace
    loopback: bool = True  # bound to a loopback address: only loopback Host headers accepted
    heartbeat: float = 15.0  # seconds between keep-alive comments on a stream
    max_streams: int = 500
    rates_interval: float = 5.0


@dataclass
class Dashboard:
    options: Options
    client: KubeClient
    cache: ReleaseCache
    users: UserClients | None = None
    access: AccessCache | None = None
    rates: RatesPoller | None = None
    streams: int = 0
    closing: bool = False
    _rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _rows_seq: int = 0

    def is_closing(self) -> bool:
        """The app is shutting down (a method: it changes while a stream awaits)."""
        return self.closing

    # --- rows of the list page -------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Every release's row, sorted by namespace and name (memoized per release)."""
        self._expire()
        out = []
        for deployment in self.cache.releases():
            key = key_of(deployment)
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = summary(deployment, self.cache.canary_of(deployment))
            out.append(row)
        out.sort(key=lambda r: (r["namespace"], r["name"]))
        return out

    def row(self, key: Key) -> dict[str, Any] | None:
        self._expire()
        deployment = self.cache.release(*key)
        if deployment is None:
            self._rows.pop(key, None)
            return None
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = summary(deployment, self.cache.canary_of(deployment))
        return row

    def _expire(self) -> None:
        if self._rows_seq == self.cache.seq:
            return
        changed = self.cache.since(self._rows_seq)
        if changed is None:
            self._rows.clear()
        else:
            for key in changed:
                self._rows.pop(key, None)
        self._rows_seq = self.cache.seq

    # --- who may read what -------------------------------------------------------------------

    async def visible(self, token: str | None) -> frozenset[str] | None:
        """Namespaces ``token`` may read (``None``: all; always ``None`` without token auth)."""
        if self.access is None or token is None:
            return None
        namespaces = {r["metadata"]["namespace"] for r in self.cache.releases()}
        return await self.access.namespaces(token, namespaces)

    async def may(self, token: str | None, access: Access) -> bool:
        if self.access is None or token is None:
            return True
        return await self.access.allowed(token, access)

    # --- one release ----------------------------------------------------------------------

    async def detail(self, ns: str, name: str, token: str | None) -> dict[str, Any] | None:
        deployment = self.cache.release(ns, name)
        if deployment is None:
            return None
        canary = self.cache.canary_of(deployment)
        replica_sets = self.cache.replica_sets_of(deployment, canary)
        pods_ok = await self.may(token, acl.list_pods(ns))
        events_ok = await self.may(token, acl.list_events(ns))
        pods = self.cache.pods_of(replica_sets) if pods_ok else {}
        names = [name] + ([f"{name}-canary"] if canary is not None else [])
        events = self.cache.events_of(ns, *names) if events_ok else []
        now = time.time()
        doc = detail(deployment, canary, replica_sets, pods, events, now=now,
                     read_only=self.options.read_only)
        doc["hidden"] = [what for what, ok in (("pods", pods_ok), ("events", events_ok))
                         if not ok]
        doc["rates"] = self.rates_of(deployment, doc)
        return doc

    def rates_of(self, deployment: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """The proxy's rates for a release routed by canarist proxy, from its start on."""
        routers = str(deployment["metadata"]["annotations"].get(TRAFFIC_ROUTER, ""))
        if "proxy" not in {r.strip() for r in routers.split(",")}:
            return {"enabled": False, "reason": "the release does not use router proxy"}
        if self.rates is None:
            return {"enabled": False, "reason": "start the dashboard with --proxy-admin-url to "
                    "see request and error rates"}
        history = doc.get("history") or {}
        points = history.get("points") or []
        since = float(points[0][0]) if points else time.time() - 1800
        route = route_name(str(deployment["metadata"]["name"]))
        return {"enabled": True, "route": route, "problem": self.rates.problem,
                "samples": [list(s) for s in self.rates.samples(route, since)]}
