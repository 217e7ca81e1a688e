"""A header-route regex cannot stall the proxy: RE2 matches in time linear in the header."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from tests.proxy.conftest import Backend, ProxyFactory


async def test_a_catastrophic_pattern_answers_at_once_and_other_hosts_are_not_delayed(
    backends: dict[str, Backend], make_proxy: ProxyFactory, session: aiohttp.ClientSession,
) -> None:
    stable, canary = backends["stable"].address, backends["canary"].address
    table = {"routes": [
        {"name": "a", "hosts": ["a.example"], "stable": {"endpoints": [stable]},
         "canary": {"endpoints": [canary]},
         "headerRoutes": [{"name": "evil", "match": [
             {"headerName": "X-Evil", "headerValue": {"regex": "(a+)+$"}}]}]},
        {"name": "b", "hosts": ["b.example"], "stable": {"endpoints": [stable]}},
    ]}
    proxy = await make_proxy(json.dumps(table))

    async def get(host: str, **headers: str) -> tuple[str, float]:
        started = time.monotonic()
        async with session.get(proxy.url + "/", headers={"Host": host, **headers}) as resp:
            await resp.read()
            return resp.headers["x-canarist-version"], time.monotonic() - started

    # With a backtracking engine, 26 a's and a b take seconds and block the whole event loop.
    hostile = get("a.example", **{"X-Evil": "a" * 30 + "b"})
    normal = get("b.example")
    (version, hostile_s), (_, normal_s) = await asyncio.gather(hostile, normal)
    assert version == "stable"  # no full match
    assert hostile_s < 1.0 and normal_s < 1.0
    assert (await get("a.example", **{"X-Evil": "a" * 4000}))[0] == "canary"
