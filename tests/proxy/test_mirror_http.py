"""Mirroring: identical copies to the canary, detached from the client's request."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.proxy.conftest import Backend, ProxyFactory, routes_text


async def settle(predicate, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_copies_are_identical_and_clients_get_the_primary(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, weight=0, mirror={"percentage": 100}))
    async with session.post(proxy.url + "/orders?id=7", data=b'{"n": 1}',
                            headers={"X-Trace": "t1", "Content-Type": "application/json"}) as r:
        assert r.headers["X-Backend"] == "stable"
        assert (await r.json())["backend"] == "stable"
    async with session.get(proxy.url + "/list") as r:
        assert r.status == 200
    canary, stable = backends["canary"], backends["stable"]
    await settle(lambda: len(canary.seen) == 2)
    for original, copy in zip(stable.seen, canary.seen, strict=True):
        assert (copy.method, copy.path, copy.body) == (original.method, original.path,
                                                       original.body)
        assert sorted(copy.headers) == sorted([*original.headers, ("x-canarist-mirror", "1")])
    counts = proxy.server.ctx.metrics.mirror["web"]
    assert counts == [2, 0, 0]


async def test_mirror_matches_and_percentage(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, mirror={
        "percentage": 50, "match": [{"method": {"exact": "GET"}}]}))
    for _ in range(10):
        async with session.get(proxy.url + "/g") as r:
            await r.read()
        async with session.post(proxy.url + "/p", data=b"x") as r:
            await r.read()
    await settle(lambda: proxy.server.ctx.metrics.mirror.get("web", [0])[0] == 5)
    await asyncio.sleep(0.1)
    assert [s.path for s in backends["canary"].seen] == ["/g"] * 5


async def primary_latencies(session: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    took = []
    for _ in range(n):
        start = time.monotonic()
        async with session.get(url) as r:
            await r.read()
            assert r.status == 200
        took.append(time.monotonic() - start)
    return took


async def test_slow_mirror_target_does_not_slow_the_primary(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    backends["canary"].delay = 2.0
    proxy = await make_proxy(routes_text(backends, mirror={"percentage": 100}),
                             mirror_timeout=0.3, mirror_queue=4, mirror_senders=2)
    took = await primary_latencies(session, proxy.url + "/", 40)
    assert max(took) < 0.25, took
    await settle(lambda: sum(proxy.server.ctx.metrics.mirror["web"]) == 40)
    sent, dropped, failed = proxy.server.ctx.metrics.mirror["web"]
    assert dropped > 0 and failed > 0 and sent == 0


async def test_dead_mirror_target_does_not_fail_the_primary(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    await backends["canary"].stop()
    proxy = await make_proxy(routes_text(backends, mirror={"percentage": 100}))
    took = await primary_latencies(session, proxy.url + "/", 20)
    assert max(took) < 0.25
    await settle(lambda: proxy.server.ctx.metrics.mirror["web"][2] == 20)


async def test_bodies_over_the_bound_are_not_mirrored(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    proxy = await make_proxy(routes_text(backends, mirror={"percentage": 100}),
                             mirror_max_body=1000)
    async with session.post(proxy.url + "/size", data=b"x" * 5000) as r:
        assert (await r.json())["size"] == 5000
    async with session.post(proxy.url + "/size", data=b"x" * 500) as r:
        assert (await r.json())["size"] == 500
    await settle(lambda: proxy.server.ctx.metrics.mirror["web"][0] == 1)
    assert proxy.server.ctx.metrics.mirror["web"] == [1, 1, 0]
    assert [len(s.body) for s in backends["canary"].seen] == [500]
