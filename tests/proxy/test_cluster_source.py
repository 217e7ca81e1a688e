"""Cluster mode in-process: ``ClusterSource`` on the embedded cluster behind a real proxy.

Pods are real HTTP servers on loopback addresses answering JSON with their version; the proxy
follows the route-table ConfigMaps, Services and EndpointSlices through ``webhook.kube``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import KubeClient
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef
from webhook.proxy.cluster import ClusterSource
from webhook.proxy.context import ProxyOptions
from webhook.proxy.server import ProxyServer
from webhook.proxy.source import Apply
from webhook.proxy.table import Resolver, describe
from webhook.spec.routetable import RouteTable

from .clusterkit import (
    deployment,
    hits,
    namespace,
    put_routes,
    ready_pods,
    service,
    session,
    statuses,
    versions,
    wait_until,
)

pytestmark = pytest.mark.slow


def web_route(weight: int, **extra: Any) -> dict[str, Any]:
    return {"name": "web", "hosts": ["web.example.com"],
            "stable": {"service": "web", "port": 80},
            "canary": {"service": "web-canary", "port": 80}, "weight": weight, **extra}


class FailingApply:
    """``ProxyServer.apply``, failing with ``failure`` while it is set: what an unexpected error
    while building or installing a table looks like to the source."""

    def __init__(self) -> None:
        self.proxy: ProxyServer | None = None
        self.failure: Exception | None = None

    def __call__(self, table: RouteTable, resolve: Resolver) -> None:
        if self.failure is not None:
            raise self.failure
        assert self.proxy is not None
        self.proxy.apply(table, resolve)


@asynccontextmanager
async def proxy_on(options: ClientOptions, ns: str, failing: FailingApply | None = None,
                   ) -> AsyncIterator[tuple[ProxyServer, ClusterSource]]:
    source = ClusterSource(options, ns, sync_timeout=10)
    table, resolve = await source.open()
    proxy = ProxyServer(table, resolve, ProxyOptions(connect_timeout=1))
    await proxy.start("127.0.0.1", 0)
    apply: Apply = proxy.apply
    if failing is not None:
        failing.proxy = proxy
        apply = failing
    watcher = asyncio.create_task(source.watch(apply))
    try:
        yield proxy, source
    finally:
        watcher.cancel()
        await source.close()
        await proxy.close()


def endpoints(proxy: ProxyServer, version: str, route: str = "web") -> list[str]:
    for r in describe(proxy.ctx.table):
        if r["name"] == route:
            return sorted(e.rpartition(":")[0] for e in r["endpoints"].get(version, []))
    return []


def weight_of(proxy: ProxyServer, route: str = "web") -> int | None:
    return next((r["weight"] for r in describe(proxy.ctx.table) if r["name"] == route), None)


async def two_versions(client: KubeClient, ns: str, stable: int = 2, canary: int = 1) -> None:
    await client.create(service(ns, "web", "web-v1"))
    await client.create(service(ns, "web-canary", "web-v2"))
    await client.create(deployment(ns, "web-v1", "v1", stable, app="web-v1"))
    await client.create(deployment(ns, "web-v2", "v2", canary, app="web-v2"))


def opts(cluster: RunningCluster) -> ClientOptions:
    return ClientOptions(kubeconfig=str(cluster.kubeconfig))


async def test_split_is_exact_and_endpoints_follow_scaling_and_deletion(
        proxy_cluster: RunningCluster) -> None:
    async with namespace(proxy_cluster) as (client, ns), session() as http:
        await two_versions(client, ns)
        await put_routes(client, ns, "web-canarist-routes", [web_route(10)])
        async with proxy_on(opts(proxy_cluster), ns) as (proxy, source):
            url = f"http://127.0.0.1:{proxy.port}/"
            host = {"Host": "web.example.com"}
            stable_ips = await wait_until("2 stable pods ready",
                                          lambda: _ready(client, ns, "web-v1", 2))
            await wait_until("the proxy has them", lambda: endpoints(proxy, "stable")
                             == stable_ips and len(endpoints(proxy, "canary")) == 1)
            answers = await hits(http, url, 100, headers=host)
            assert statuses(answers) == {200: 100}
            assert versions(answers) == {"v1": 90, "v2": 10}
            assert {a[2]["ip"] for a in answers if a[2]["version"] == "v1"} == set(stable_ips)

            await put_routes(client, ns, "web-canarist-routes", [web_route(50)])
            await wait_until("weight 50", lambda: weight_of(proxy) == 50)
            assert versions(await hits(http, url, 100, headers=host)) == {"v1": 50, "v2": 50}

            # endpoint churn: the rings change in place, the table stays the same object
            table = proxy.ctx.table
            updates = source.updates
            await client.patch(ObjectRef("apps/v1", "Deployment", ns, "web-v1"),
                               {"spec": {"replicas": 3}})
            three = await wait_until("3 stable pods", lambda: _ready(client, ns, "web-v1", 3))
            await wait_until("the proxy has 3", lambda: endpoints(proxy, "stable") == three)
            assert proxy.ctx.table is table and source.updates > updates
            answers = await hits(http, url, 120, headers=host)
            assert statuses(answers) == {200: 120}
            by_pod = {a[2]["ip"] for a in answers if a[2]["version"] == "v1"}
            assert by_pod == set(three)  # round-robin over every ready endpoint

            gone = three[0]
            pods = await client.list("v1", "Pod", ns, label_selector="app=web-v1")
            victim = next(p for p in pods if p["status"]["podIP"] == gone)
            await client.delete(ObjectRef("v1", "Pod", ns, victim["metadata"]["name"]))
            await wait_until("the deleted pod leaves the proxy",
                             lambda: gone not in endpoints(proxy, "stable"))
            answers = await hits(http, url, 100, headers=host)
            assert statuses(answers) == {200: 100}
            assert gone not in {a[2]["ip"] for a in answers}
            assert proxy.ctx.table is table


async def _ready(client: KubeClient, ns: str, app: str, n: int) -> list[str] | None:
    found = await ready_pods(client, ns, app)
    return found if len(found) == n else None


async def test_pods_get_traffic_only_once_ready(proxy_cluster: RunningCluster) -> None:
    async with namespace(proxy_cluster) as (client, ns), session() as http:
        await client.create(service(ns, "web", "web-v1"))
        await client.create(service(ns, "web-canary", "web-v2"))
        await client.create(deployment(ns, "web-v1", "v1", 1, app="web-v1"))
        await put_routes(client, ns, "routes", [web_route(50)])
        async with proxy_on(opts(proxy_cluster), ns) as (proxy, _):
            url = f"http://127.0.0.1:{proxy.port}/"
            host = {"Host": "web.example.com"}
            await wait_until("stable endpoint", lambda: endpoints(proxy, "stable"))
            # the canary's pods answer 503 "starting" for 1.5 s: not ready, so not routed to
            await client.create(deployment(ns, "web-v2", "v2", 1, app="web-v2", ready_after=1.5))
            await wait_until("the canary pod exists",
                             lambda: _pods(client, ns, "web-v2"))
            answers = await hits(http, url, 20, concurrency=1, headers=host)
            canary = [a for a in answers if a[1] == "canary"]
            assert canary and all(a[0] == 503 and "no ready canary endpoints" in a[2]["text"]
                                  for a in canary)
            await wait_until("the canary is ready and routed to",
                             lambda: endpoints(proxy, "canary"), within=15)
            answers = await hits(http, url, 100, headers=host)
            assert statuses(answers) == {200: 100}
            assert versions(answers) == {"v1": 50, "v2": 50}


async def _pods(client: KubeClient, ns: str, app: str) -> list[Any]:
    return await client.list("v1", "Pod", ns, label_selector=f"app={app}")


async def test_tables_merge_bad_ones_are_skipped_and_conflicts_logged(
        proxy_cluster: RunningCluster, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "canarist.proxy")
    async with namespace(proxy_cluster) as (client, ns), session() as http:
        await two_versions(client, ns, stable=1, canary=1)
        await put_routes(client, ns, "a-web", [web_route(0)])
        api = {"name": "api", "hosts": ["api.example.com"],
               "stable": {"service": "web-canary", "port": 80}}
        await put_routes(client, ns, "b-api", [api])
        await put_routes(client, ns, "c-broken", "routes: [{name: x, wieght: 3}]")
        # serves web.example.com again: a-web comes first, so this route is ignored
        await put_routes(client, ns, "d-dup", [dict(web_route(100), name="dup")])
        async with proxy_on(opts(proxy_cluster), ns) as (proxy, _):
            url = f"http://127.0.0.1:{proxy.port}/"
            names = [r["name"] for r in describe(proxy.ctx.table)]
            assert names == ["web", "api"]
            text = caplog.text
            assert f"ConfigMap {ns}/c-broken key routes.yaml" in text
            assert 'routes[0].wieght: unknown key "wieght"' in text
            assert f"route 'dup' of ConfigMap {ns}/d-dup: host 'web.example.com'" in text
            await wait_until("endpoints", lambda: endpoints(proxy, "stable")
                             and endpoints(proxy, "stable", "api"))
            web = await hits(http, url, 10, headers={"Host": "web.example.com"})
            assert versions(web) == {"v1": 10}
            api_answers = await hits(http, url, 10, headers={"Host": "api.example.com"})
            assert versions(api_answers) == {"v2": 10}

            # a good table turned bad keeps its last good routes; the others keep serving
            caplog.clear()
            await put_routes(client, ns, "a-web", "routes: {}")
            await put_routes(client, ns, "b-api", [dict(api, pathPrefix="/v2")])
            await wait_until("the api route moved", lambda: any(
                r["pathPrefix"] == "/v2" for r in describe(proxy.ctx.table)))
            assert "keeping its last good routes" in caplog.text
            assert versions(await hits(http, url, 10, headers={"Host": "web.example.com"})) \
                == {"v1": 10}
            assert statuses(await hits(http, url, 4, headers={"Host": "api.example.com"})) \
                == {404: 4}

            await client.delete(ObjectRef("v1", "ConfigMap", ns, "a-web"))
            await wait_until("web now served by d-dup",
                             lambda: [r["name"] for r in describe(proxy.ctx.table)] ==
                             ["api", "dup"])
            await wait_until("dup endpoints", lambda: endpoints(proxy, "canary", "dup"))
            assert versions(await hits(http, url, 10, headers={"Host": "web.example.com"})) \
                == {"v2": 10}


async def test_a_table_that_fails_to_apply_is_refused_in_one_line_and_the_watches_go_on(
        proxy_cluster: RunningCluster, caplog: pytest.LogCaptureFixture) -> None:
    """Whatever goes wrong while a merged table is applied: one log line, the last good table
    serves on (its endpoints still followed), later changes apply; no traceback from the
    event loop's handler."""
    caplog.set_level(logging.INFO)
    failing = FailingApply()
    async with namespace(proxy_cluster) as (client, ns), session() as http:
        await two_versions(client, ns, stable=1, canary=1)
        await put_routes(client, ns, "routes", [web_route(10)])
        async with proxy_on(opts(proxy_cluster), ns, failing) as (proxy, _):
            url = f"http://127.0.0.1:{proxy.port}/"
            h = {"Host": "web.example.com"}
            await wait_until("endpoints", lambda: len(endpoints(proxy, "stable")) == 1
                             and endpoints(proxy, "canary"))
            caplog.clear()
            failing.failure = RuntimeError("boom\nsecond line")
            # the refused table no longer uses the stable Service: its ring must stay followed
            await put_routes(client, ns, "routes", [dict(
                web_route(30), stable={"service": "web-canary", "port": 80})])

            def refusals() -> list[str]:
                return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

            await wait_until("the refusal", refusals)
            await client.patch(ObjectRef("apps/v1", "Deployment", ns, "web-v1"),
                               {"spec": {"replicas": 2}})
            two = await wait_until("2 stable pods", lambda: _ready(client, ns, "web-v1", 2))
            await wait_until("the last good table follows them",
                             lambda: endpoints(proxy, "stable") == two)
            answers = await hits(http, url, 100, headers=h)
            assert statuses(answers) == {200: 100}
            assert versions(answers) == {"v1": 90, "v2": 10}
            assert {a[2]["ip"] for a in answers if a[2]["version"] == "v1"} == set(two)
            assert refusals() == [
                f"refused route tables from namespace {ns} (1 ConfigMap(s)): unexpected "
                "RuntimeError: boom\\nsecond line; keeping the last good table"]

            failing.failure = None  # later changes apply
            await put_routes(client, ns, "routes", [web_route(50)])
            await wait_until("weight 50", lambda: weight_of(proxy) == 50)
            assert versions(await hits(http, url, 100, headers=h)) == {"v1": 50, "v2": 50}
            assert len(refusals()) == 1  # nothing else went wrong


class Relay:
    """A TCP relay in front of the API server that can be cut and restored on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        await self.server.wait_closed()
        self.server = None


def kubeconfig_via(original: Path, server: str, out: Path) -> Path:
    config = yaml.safe_load(original.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = server
    out.write_text(yaml.safe_dump(config))
    return out


async def test_the_api_going_away_keeps_the_last_table_and_changes_apply_when_it_is_back(
        proxy_cluster: RunningCluster, tmp_path: Path) -> None:
    url = proxy_cluster.url
    host, port = url.removeprefix("https://").rsplit(":", 1)
    relay = Relay((host, int(port)))
    await relay.start()
    relayed = kubeconfig_via(proxy_cluster.kubeconfig, f"https://{host}:{relay.port}",
                             tmp_path / "kubeconfig")
    async with namespace(proxy_cluster) as (client, ns), session() as http:
        await two_versions(client, ns, stable=1, canary=1)
        await put_routes(client, ns, "routes", [web_route(10)])
        async with proxy_on(ClientOptions(kubeconfig=str(relayed)), ns) as (proxy, _):
            url = f"http://127.0.0.1:{proxy.port}/"
            h = {"Host": "web.example.com"}
            await wait_until("endpoints", lambda: endpoints(proxy, "stable")
                             and endpoints(proxy, "canary"))
            await relay.cut()
            await put_routes(client, ns, "routes", [web_route(30)])  # not seen: API away
            await asyncio.sleep(1.0)
            answers = await hits(http, url, 100, headers=h)
            assert statuses(answers) == {200: 100}
            assert versions(answers) == {"v1": 90, "v2": 10}  # the last table serves on
            await relay.start()  # back on the same port
            await wait_until("the change made while away", lambda: weight_of(proxy) == 30,
                             within=40)
            assert versions(await hits(http, url, 100, headers=h)) == {"v1": 70, "v2": 30}
    await relay.cut()

