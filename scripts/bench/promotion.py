#!/usr/bin/env python3
"""Benchmark of a promotion: from all traffic on the canary to ``Healthy``; prints JSON.

Two processes: the embedded cluster (``canarist up --without reconciler``: API server,
admission webhook, controllers, kubelet running real pods) and this driver, which runs the
reconciler in-process for one namespace per run. Each run: a Deployment of ``--replicas`` pods
(router ``proxy``, steps ``setWeight: 100, pause: {}``, pods ready ``--ready-after`` seconds
after they start, readiness probed every second), a new template, the canary at 100% of the
traffic with all its pods available; then ``promote`` — and the clock runs until the status is
``Healthy`` on the new revision. The two promotions run alternately in the same run:

* ``rollout`` (``canarist reconcile --promotion rollout``, the promotion before the hand-over):
  the Deployment is unpaused and rolls the template out itself (new pods, each ``--ready-after``
  to become ready, within its maxSurge/maxUnavailable), then the stable Service switches;
* ``handover`` (the default): the canary's ReplicaSet is orphaned and adopted by the Deployment,
  which creates no pod.

Figures per mode: the promotion time (median, min, max over ``--runs``, seconds), the pods
created during the promotion, and the most pods that existed at once during it; ``ratio`` is
handover over rollout.

    python scripts/bench/promotion.py [--replicas 4] [--ready-after 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import cluster_process, ratio
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.loop import LoopOptions, Reconciler
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import STATUS

STEPS = "- setWeight: 100\n- pause: {}\n"


def deployment(ns: str, replicas: int, ready_after: float, version: str = "v1") -> JSON:
    container: JSON = {
        "name": "app", "image": f"demo:{version}",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": "DEMO_READY_AFTER_S", "value": str(ready_after)}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns,
                     "labels": {"canarist.io/enabled": "true"},
                     "annotations": {"canarist.io/traffic-router": "proxy",
                                     "canarist.io/steps": STEPS,
                                     "canarist.io/scale-down-delay": "0s"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [container]}}},
    }


def service(ns: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


async def status_of(client: KubeClient, ns: str) -> tuple[ReleaseStatus, JSON]:
    d = await client.get(ObjectRef("apps/v1", "Deployment", ns, "web"))
    assert d is not None
    return ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS)), d


async def until(what: str, probe: Any, within: float = 120.0, every: float = 0.01) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


async def pods(client: KubeClient, ns: str) -> set[str]:
    return {p["metadata"]["uid"] for p in await client.list("v1", "Pod", ns)
            if not p["metadata"].get("deletionTimestamp")}


async def one_run(client: KubeClient, ns: str, mode: str, args: argparse.Namespace
                  ) -> dict[str, float]:
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await client.create(service(ns))
    await client.create(deployment(ns, args.replicas, args.ready_after))
    stop = asyncio.Event()
    reconciler = Reconciler(client, LoopOptions(namespace=ns, handover=mode == "handover"))
    task = asyncio.create_task(reconciler.run(stop))
    ref = ObjectRef("apps/v1", "Deployment", ns, "web")
    try:
        async def adopted() -> bool:
            s, d = await status_of(client, ns)
            return s.phase == Phase.HEALTHY and (d.get("status") or {}).get(
                "availableReplicas") == args.replicas

        await until("adoption", adopted)
        await client.patch(ref, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "demo:v2"}]}}}}, patch_type="strategic")

        async def at_100() -> ReleaseStatus | None:
            s, _ = await status_of(client, ns)
            return s if s.weight == 100 and s.phase == Phase.PAUSED else None

        v2 = (await until("weight 100", at_100)).canary_hash
        before = await pods(client, ns)
        seen, peak = set(before), len(before)
        started = time.monotonic()
        await client.patch(ref, {"metadata": {"annotations": {"canarist.io/action": "promote"}}})

        async def healthy() -> bool:
            nonlocal peak
            now = await pods(client, ns)
            seen.update(now)
            peak = max(peak, len(now))
            s, _ = await status_of(client, ns)
            return s.phase == Phase.HEALTHY and s.stable_hash == v2

        await until("Healthy", healthy)
        return {"seconds": time.monotonic() - started, "pods_created": len(seen - before),
                "peak_pods": peak}
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await client.delete(ObjectRef("v1", "Namespace", "", ns))


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    secs = [r["seconds"] for r in runs]
    return {"promotion_s_median": round(statistics.median(secs), 3),
            "promotion_s_min": round(min(secs), 3), "promotion_s_max": round(max(secs), 3),
            "pods_created_max": max(int(r["pods_created"]) for r in runs),
            "peak_pods_max": max(int(r["peak_pods"]) for r in runs)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with cluster_process(kubeconfig, "reconciler,proxy"):
            opts = ClientOptions(kubeconfig=str(kubeconfig), qps=0)
            results: dict[str, list[dict[str, float]]] = {"rollout": [], "handover": []}
            async with connect(opts) as client:
                for i in range(args.runs):  # alternately, so both see the same machine
                    for mode in ("rollout", "handover"):
                        results[mode].append(await one_run(client, f"bench-{mode}-{i}", mode,
                                                           args))
    out: dict[str, Any] = {"replicas": args.replicas, "ready_after_s": args.ready_after,
                           "runs": args.runs}
    for mode, runs in results.items():
        out[mode] = summary(runs)
    out["ratio_handover_over_rollout"] = ratio(out["handover"]["promotion_s_median"],
                                               out["rollout"]["promotion_s_median"])
    return out


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--ready-after", type=float, default=1.0,
                   help="seconds a pod takes to become ready (default 1)")
    p.add_argument("--runs", type=int, default=3, help="promotions of each kind (default 3)")
    args = p.parse_args()
    if not 1 <= args.replicas <= 50 or not 1 <= args.runs <= 20 or not 0 <= args.ready_after <= 60:
        p.error("--replicas 1-50, --runs 1-20, --ready-after 0-60")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse())), indent=2))
