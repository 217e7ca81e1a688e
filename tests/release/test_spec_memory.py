"""The reconciler's cache of parsed specs is bounded in bytes, like the webhook's: it was an
``lru_cache`` of 4096 entries keyed by the annotation text, so 4096 Deployments (or one edited
4096 times) with large annotations kept every one of those texts — gigabytes."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from webhook.release.model import observe
from webhook.release.specs import SPECS
from webhook.spec.speccache import cost_of

MiB = 1024 * 1024


def deployment(i: int, size: int) -> dict[str, Any]:
    """A Deployment whose ``canarist.io/`` annotations (``size`` bytes) differ from any other's."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"web{i}", "namespace": "shop", "uid": f"uid-{i}",
                     "annotations": {"canarist.io/steps": f"# {i} {'y' * size}\n"
                                                          "- setWeight: 10\n"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "demo:v1"}]}}},
    }


def kept_after(deployments: int, size: int) -> int:
    """Bytes still allocated after the reconciler read ``deployments`` distinct Deployments."""
    SPECS.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(deployments):
            world = observe(deployment(i, size))
            assert world.spec is None and world.spec_error  # (over the 64 KiB of a value)
            del world
        gc.collect()
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
        SPECS.clear()


def test_many_distinct_large_annotations_keep_the_byte_budget() -> None:
    # 400 x 100 KB = 40 MB of annotation text read; the cache holds at most its 16 MiB
    # (counted as three times the text), and never more than that whatever the count
    kept = kept_after(400, 100_000)
    assert SPECS.max_bytes == 16 * MiB
    assert kept < 12 * MiB, f"{kept / MiB:.1f} MiB kept"


def test_an_annotation_too_large_to_keep_is_not_kept() -> None:
    # 60 x 1 MB: each over the largest entry kept (1 MiB of accounted cost), so none stays
    kept = kept_after(60, 1_000_000)
    assert kept < 2 * MiB, f"{kept / MiB:.1f} MiB kept"


def test_the_cache_accounts_what_it_holds() -> None:
    SPECS.clear()
    for i in range(300):
        observe(deployment(i, 20_000))
        assert SPECS.size <= SPECS.max_bytes
    assert 0 < len(SPECS) < 300
    key = ("web299", (("canarist.io/steps", f"# 299 {'y' * 20_000}\n- setWeight: 10\n"),))
    assert SPECS.get((*key, None)) is not None  # the newest stays
    assert SPECS.max_bytes - cost_of(key) < SPECS.size  # full, not emptied
    SPECS.clear()
