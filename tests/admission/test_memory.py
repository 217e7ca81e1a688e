"""The webhook's memory is bounded by configuration whatever the reviews: the cache of parsed
specs counts the annotation text it is keyed by, and gives memory back."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import ssl
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.admission.conftest import GOLDEN, Pki
from tests.admission.process import start_webhook
from tests.admission.rawhttp import exchange, open_tls
from webhook.admission import mutate
from webhook.admission.speccache import SpecCache, cost_of, spec_key

BASE = json.loads((GOLDEN / "22-update-new-canary.request.json").read_text())


def big_review(i: int, size: int = 2_900_000) -> bytes:
    """A review of ``size`` bytes whose canarist annotations differ from every other one's."""
    body = copy.deepcopy(BASE)
    annotations = body["request"]["object"]["metadata"]["annotations"]
    annotations["canarist.io/steps"] = f"# {i}\n- setWeight: 10\n"
    filler = size - len(json.dumps(body)) - 200
    for k in range(10):
        annotations[f"canarist.io/x{k}"] = f"{i}-{k}-" + "y" * (filler // 10)
    return json.dumps(body).encode()


def test_the_cache_keeps_its_byte_budget() -> None:
    cache = SpecCache(max_bytes=1 << 20)
    for i in range(500):
        key = ("web", (("canarist.io/steps", f"# {i}\n" + "x" * 4000),))
        cache.put(key, f"spec {i}")
        assert cache.size <= cache.max_bytes
    assert 0 < len(cache) < 500
    newest = ("web", (("canarist.io/steps", "# 499\n" + "x" * 4000),))
    assert cache.get(newest) == "spec 499"
    huge = ("web", (("canarist.io/steps", "z" * (1 << 17)),))
    cache.put(huge, "too big to keep")
    assert cache.get(huge) is None


def test_the_least_recently_used_go_first() -> None:
    one = ("a", (("canarist.io/steps", "1"),))
    cache = SpecCache(max_bytes=3 * cost_of(one), max_entry=cost_of(one))
    keys = [(name, (("canarist.io/steps", "1"),)) for name in "abcd"]
    for key in keys[:3]:
        cache.put(key, key[0])
    cache.get(keys[0])  # a is used again
    cache.put(keys[3], "d")
    assert cache.get(keys[1]) is None  # b went
    assert [cache.get(k) for k in (keys[0], keys[2], keys[3])] == ["a", "c", "d"]


def test_the_key_ignores_the_status_and_other_annotations() -> None:
    ann = {"canarist.io/steps": "x", "canarist.io/status": "{}", "other": "y"}
    assert spec_key(ann, "web") == ("web", (("canarist.io/steps", "x"),))
    assert spec_key({"canarist.io/steps": 1}, "web") is None


def test_distinct_large_reviews_leave_no_memory_behind() -> None:
    """650 different 2.9 MB reviews took the webhook from 70 MB to 1.35 GB: each one's
    annotation text stayed as a cache key. Here 40 (116 MB of them) may leave a few MB."""
    mutate.DEFAULT_CACHE.clear()
    bodies = (big_review(i) for i in range(40))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for body in bodies:
            decision = mutate.review(body)
            assert decision.outcome == "denied"
            del decision, body
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 8 * 1024 * 1024, f"{kept / 1e6:.1f} MB kept"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_the_server_process_gives_the_memory_back(pki: Pki, tmp_path: Path) -> None:
    """The real ``canarist webhook`` process: its RSS after 120 different 2.9 MB reviews stays
    within a bound of its RSS after the first few (it kept every one before)."""
    proc, port = await asyncio.to_thread(start_webhook, pki.cert, pki.key,
                                         tmp_path / "webhook.log")
    try:
        ctx: ssl.SSLContext = pki.client_context()
        reader, writer = await open_tls(port, ctx)

        async def send(i: int) -> Any:
            status, _, _ = await exchange(reader, writer, "/mutate", big_review(i))
            assert status == 200

        for i in range(10):
            await send(i)
        warm = _rss(proc.pid)
        for i in range(10, 120):
            await send(i)
        grown = _rss(proc.pid) - warm
        writer.close()
        assert grown < 64 * 1024 * 1024, f"RSS grew by {grown / 1e6:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(10)

