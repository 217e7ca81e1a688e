"""Routing through the real proxy to real backends: split, header routes, sticky, table swaps."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.proxy.conftest import Backend, ProxyFactory, routes_text, versions
from webhook.spec.routetable import parse_route_table


@pytest.mark.parametrize("weight", [0, 1, 10, 33, 50, 99, 100])
async def test_exact_split_with_concurrent_clients(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
    weight: int,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=weight))
    counts = await versions(session, proxy.url + "/", 300, concurrency=24)
    assert counts.get("canary", 0) == 3 * weight
    assert counts.get("stable", 0) == 300 - 3 * weight
    # the backends agree with the header
    assert len(backends["canary"].seen) == 3 * weight


async def test_round_robin_over_endpoints(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    text = routes_text(backends, stable={"endpoints": [backends["stable"].address,
                                                       backends["stable2"].address]})
    proxy = await make_proxy(text)
    await versions(session, proxy.url + "/", 40, concurrency=4)
    assert len(backends["stable"].seen) == len(backends["stable2"].seen) == 20


async def test_header_routes_take_precedence(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=0, headerRoutes=[
        {"name": "beta", "match": [{"headerName": "X-Canary",
                                    "headerValue": {"regex": "yes|always"}}]},
    ]))
    with_header = await versions(session, proxy.url + "/", 50, headers={"X-Canary": "always"})
    without = await versions(session, proxy.url + "/", 50, headers={"X-Canary": "no"})
    assert with_header == {"canary": 50}
    assert without == {"stable": 50}


async def test_sticky_cookie_and_its_invalidation(
    backends: dict[str, Backend], make_proxy: ProxyFactory,
) -> None:
    spec = {"weight": 50, "canaryHash": "rev1", "sticky": {"cookie": "cw", "maxAge": 60}}
    proxy = await make_proxy(routes_text(backends, **spec))
    jars = [aiohttp.CookieJar(unsafe=True) for _ in range(6)]
    first: list[str] = []
    for jar in jars:
        async with aiohttp.ClientSession(cookie_jar=jar) as s, s.get(proxy.url + "/") as r:
            first.append(r.headers["x-canarist-version"])
    assert first.count("canary") == 3
    for jar, version in zip(jars, first, strict=True):
        async with aiohttp.ClientSession(cookie_jar=jar) as s:
            for _ in range(5):
                async with s.get(proxy.url + "/") as r:
                    assert r.headers["x-canarist-version"] == version
                    assert "Set-Cookie" not in r.headers
    # a new release: every cookie is re-drawn, and a fresh one is set
    proxy.swap(parse_route_table(routes_text(backends, **{**spec, "canaryHash": "rev2"})))
    for jar in jars:
        async with aiohttp.ClientSession(cookie_jar=jar) as s, s.get(proxy.url + "/") as r:
            assert ".rev2." in r.headers["Set-Cookie"]


async def test_unknown_host_is_404_with_a_short_body(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, hosts=["web.example.com"]))
    async with session.get(proxy.url + "/", headers={"Host": "other.example.com"}) as r:
        assert r.status == 404
        assert "no route for host 'other.example.com'" in await r.text()
    async with session.get(proxy.url + "/", headers={"Host": "web.example.com:80"}) as r:
        assert r.status == 200


async def test_no_endpoints_is_503(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=100, canary={"endpoints": []}))
    async with session.get(proxy.url + "/") as r:
        assert r.status == 503
        assert "no ready canary endpoints" in await r.text()


async def test_weight_changes_under_load_fail_nothing(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=0))
    backends["stable"].delay = backends["canary"].delay = 0.002
    statuses: list[int] = []
    seen_versions: set[str] = set()
    stop = asyncio.Event()

    async def client() -> None:
        for _ in range(2000):
            if stop.is_set():
                return
            async with session.post(proxy.url + "/", data=b"x" * 100) as r:
                body = await r.json()
                statuses.append(r.status)
                seen_versions.add(r.headers["x-canarist-version"])
                assert body["len"] == 100

    tasks = [asyncio.create_task(client()) for _ in range(8)]
    for weight in (5, 25, 50, 100, 0, 50):
        await asyncio.sleep(0.15)
        proxy.swap(parse_route_table(routes_text(backends, weight=weight)))
    await asyncio.sleep(0.15)
    stop.set()
    await asyncio.gather(*tasks)
    assert len(statuses) > 100
    assert set(statuses) == {200}
    assert seen_versions == {"stable", "canary"}


async def test_in_flight_requests_finish_where_they_started(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=0))
    backends["stable"].delay = 0.3
    pending = asyncio.create_task(session.get(proxy.url + "/"))
    await asyncio.sleep(0.1)
    proxy.swap(parse_route_table(routes_text(backends, weight=100)))
    async with session.get(proxy.url + "/") as r:
        assert r.headers["x-canarist-version"] == "canary"
    resp = await pending
    assert resp.headers["x-canarist-version"] == "stable"
    assert (await resp.json())["backend"] == "stable"
    resp.release()


async def test_version_header_can_be_turned_off(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends), version_header=False)
    async with session.get(proxy.url + "/") as r:
        assert r.status == 200
        assert "x-canarist-version" not in r.headers
