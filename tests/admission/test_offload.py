"""One slow review does not stall admission: costly parses run in a bounded pool with a time
budget; the reviews the webhook has seen before keep being answered meanwhile."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.admission.conftest import GOLDEN, Pki
from tests.tls.handshake import SERVER_NAME
from webhook.admission.config import ServerConfig
from webhook.admission.offload import SWITCH_INTERVAL
from webhook.admission.server import Running, serving

BASE = json.loads((GOLDEN / "22-update-new-canary.request.json").read_text())
NORMAL = json.dumps(BASE).encode()


def with_steps(steps: str, uid: str = "u") -> bytes:
    body = copy.deepcopy(BASE)
    body["request"]["uid"] = uid
    body["request"]["object"]["metadata"]["annotations"]["canarist.io/steps"] = steps
    return json.dumps(body).encode()


def slow_steps(i: int) -> str:
    """About 60 KB that only PyYAML's own (pure Python) parser reads: a few tenths of a second
    of CPU each, different every time (no cache)."""
    return f"# é {i}\n" + "- pause: {duration: 1s}\n" * 2500


async def webhook_with(pki: Pki, **config: Any) -> AsyncIterator[Running]:
    options = {"drain_seconds": 0, **config}
    async with serving(ServerConfig(str(pki.cert), str(pki.key), "127.0.0.1", 0,
                                    **options)) as running:
        yield running


@pytest.fixture(autouse=True)
def switch_interval() -> Iterator[None]:
    """As ``canarist webhook`` sets it (``server.run``)."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    yield
    sys.setswitchinterval(saved)


async def post(client: aiohttp.ClientSession, webhook: Running, body: bytes) -> dict[str, Any]:
    async with client.post(webhook.url("/mutate"), data=body, server_hostname=SERVER_NAME,
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
        response: dict[str, Any] = (await resp.json())["response"]
        return response


async def test_normal_reviews_are_answered_while_slow_ones_are_parsed(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    await post(client, webhook, NORMAL)  # its spec is now cached
    hostile = [asyncio.create_task(post(client, webhook, with_steps(slow_steps(i), f"h{i}")))
               for i in range(4)]
    latencies: list[float] = []
    while not all(task.done() for task in hostile):
        started = time.monotonic()
        response = await post(client, webhook, NORMAL)
        latencies.append(time.monotonic() - started)
        assert response["allowed"]
        await asyncio.sleep(0.01)
    for task in hostile:
        assert (await task)["allowed"] is False  # more than 100 steps
    assert len(latencies) >= 5
    latencies.sort()
    # Inline, each normal review waited for the slow parses ahead of it (seconds in all).
    assert latencies[len(latencies) // 2] < 0.1, latencies
    assert latencies[-1] < 1.0, latencies


async def test_a_review_past_its_budget_is_denied_saying_so(pki: Pki,
                                                            client: aiohttp.ClientSession) -> None:
    async for webhook in webhook_with(pki, review_budget=0.05):
        response = await post(client, webhook, with_steps(slow_steps(0)))
        assert response["allowed"] is False
        message = response["status"]["message"]
        assert "canarist.io/steps[" in message and "took too long to parse" in message


async def test_a_large_body_is_decided_in_the_pool_like_a_small_one(
    webhook: Running, client: aiohttp.ClientSession
) -> None:
    body = copy.deepcopy(BASE)
    body["request"]["object"]["metadata"]["annotations"]["team.example.com/notes"] = "n" * 200_000
    large = json.dumps(body).encode()
    before = webhook.state.decider.offloaded
    response = await post(client, webhook, large)
    small = await post(client, webhook, NORMAL)
    assert webhook.state.decider.offloaded == before + 1
    assert response["patch"] == small["patch"] and response["allowed"]
