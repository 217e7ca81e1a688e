#!/usr/bin/env python3
"""Benchmark of the release reconciler at scale; prints JSON.

Three processes: the embedded cluster (``canarist up --without reconciler``), the reconciler
(``Reconciler`` with a client that counts its API writes), and this driver, which creates ``--n``
opted-in Deployments (router ``proxy``), waits until the reconciler adopted them all, then starts
``--m`` releases, their starts spread over one pause so that pause ends are spread as in real
use. Steps: ``setWeight 10, pause P, setWeight 20, pause P, setWeight 30, pause P, setWeight 40,
pause {}``; the canary needs one pod at every weight, so each pause's end is followed directly by a
weight change.

Figures:

* ``reaction``: from a pause's end (``stepStartedAt + P`` in the status) to the route-table
  ConfigMap carrying the next weight, as the driver's watch sees it (p50/p99, ms);
* ``writes_per_weight_change``: API writes the reconciler issued while the releases moved
  through their timed pauses (status, routers, canary) divided by the weight changes seen;
* ``rss_mb``: the reconciler's peak resident memory (VmHWM).

Baseline, measured in the same run and in the same way: a process that sleeps until the same
deadlines and writes one merge patch to a ConfigMap per deadline — the floor a timer-driven write
sees on this API server and machine (timer, one write, the watch delivering it).

    python scripts/bench/reconciler.py --n 100 --m 10 [--pause 2] [--qps 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import (
    cluster_process,
    peak_rss_mb,
    percentile,
    ratio,
    service_account_kubeconfig,
)
from scripts.bench.reconciler_roles import NS, baseline_main, reconciler_main
from webhook.cluster.identities import NAMESPACE, RECONCILER
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.informer import Informer, start_all, stop_all
from webhook.kube.protocol import JSON, ObjectRef
from webhook.spec import ReleaseStatus
from webhook.spec.routetable import ROUTE_TABLE_KEY, parse_route_table

HERE = str(Path(__file__).resolve())
STEPS = [10, 20, 30, 40]


def steps_annotation(pause: float) -> str:
    lines = []
    for i, weight in enumerate(STEPS):
        lines.append(f"- setWeight: {weight}")
        last = i == len(STEPS) - 1
        lines.append("- pause: {}" if last else f"- pause: {{duration: {pause}}}")
    return "\n".join(lines) + "\n"


def deployment(i: int, pause: float, replicas: int) -> JSON:
    labels = {"app": f"app{i}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"app{i}",
            "namespace": NS,
            "labels": {"canarist.io/enabled": "true"},
            "annotations": {
                "canarist.io/traffic-router": "proxy",
                "canarist.io/steps": steps_annotation(pause),
            },
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                         "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


def service(i: int) -> JSON:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"app{i}", "namespace": NS},
            "spec": {"selector": {"app": f"app{i}"},
                     "ports": [{"port": 80, "targetPort": 8080}]}}


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


# --- the driver ---------------------------------------------------------------------------------


class Observer:
    """Watches route tables, baseline ConfigMaps and statuses; records when each value appears."""

    def __init__(self, client: KubeClient) -> None:
        self.routes = Informer(client, "v1", "ConfigMap", namespace=NS)
        self.deployments = Informer(client, "apps/v1", "Deployment", namespace=NS)
        self.weights: dict[tuple[str, int], float] = {}  # (deployment, weight) -> seen at
        self.base: dict[tuple[str, int], float] = {}
        self.pause_started: dict[tuple[str, int], float] = {}  # (deployment, step) -> stepStartedAt
        self.routes.add_handler(self._on_configmap)
        self.deployments.add_handler(self._on_deployment)

    def _on_configmap(self, etype: str, obj: JSON, old: JSON | None) -> None:
        now = time.time()
        name = obj["metadata"]["name"]
        data = obj.get("data") or {}
        if name.endswith("-canarist-routes") and ROUTE_TABLE_KEY in data:
            for route in parse_route_table(data[ROUTE_TABLE_KEY]).routes:
                self.weights.setdefault((route.name, route.weight), now)
        elif name.startswith("base") and "weight" in data:
            self.base.setdefault((name, int(data["weight"])), now)

    def _on_deployment(self, etype: str, obj: JSON, old: JSON | None) -> None:
        ann = obj["metadata"].get("annotations") or {}
        status = ReleaseStatus.from_json(ann.get("canarist.io/status"))
        started = parse_time(status.step_started_at)
        if status.step in (1, 3, 5, 7) and started is not None:
            self.pause_started[(obj["metadata"]["name"], status.step)] = started

    async def start(self) -> None:
        await start_all([self.routes, self.deployments], within=None)

    async def stop(self) -> None:
        await stop_all([self.routes, self.deployments])


async def stats(port: int) -> dict[str, Any]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/stats"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        result: dict[str, Any] = await resp.json()
        return result


async def wait_until(what: str, check: Any, within: float) -> None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if check():
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out: {what}")


async def drive(args: argparse.Namespace, kubeconfig: str) -> dict[str, Any]:
    opts = ClientOptions(kubeconfig=kubeconfig, qps=0, workers=16)
    async with connect(opts) as client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        t = time.monotonic()
        sem = asyncio.Semaphore(32)

        async def make(i: int) -> None:
            async with sem:
                await client.create(service(i))
                replicas = 1 if i < args.m else args.idle_replicas
                await client.create(deployment(i, args.pause, replicas))

        await asyncio.gather(*(make(i) for i in range(args.n)))
        created = time.monotonic() - t
        observer = Observer(client)
        await observer.start()

        # the reconciler as its ServiceAccount: the user up's webhook trusts with the status
        as_reconciler = service_account_kubeconfig(
            kubeconfig, NAMESPACE, RECONCILER.name, Path(kubeconfig).with_name("reconciler.kc"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, HERE, "--role", "reconciler", "--kubeconfig", as_reconciler,
            "--qps", str(args.qps), "--workers", str(args.workers),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None and proc.stdin is not None
        port = json.loads(await proc.stdout.readline())["port"]
        released = [f"app{i}" for i in range(args.m)]
        try:
            t = time.monotonic()

            want: int = args.n

            def adopted() -> bool:
                count = sum(
                    1 for d in observer.deployments.list()
                    if "canarist.io/status" in (d["metadata"].get("annotations") or {})
                )
                return count >= want

            await wait_until("adoption", adopted, 120 + args.n * 0.2)
            adoption = time.monotonic() - t

            # the releases start spread over one pause
            order = random.Random(7).sample(released, len(released))
            t0 = time.time()
            for k, name in enumerate(order):
                await asyncio.sleep(max(0.0, t0 + k * args.pause / len(order) - time.time()))
                patch = {"spec": {"template": {"spec": {"containers": [
                    {"name": "app", "image": "demo:v2"}]}}}}
                await client.patch(ObjectRef("apps/v1", "Deployment", NS, name), patch,
                                   patch_type="strategic")

            def at(weight: int) -> bool:
                return all((n, weight) in observer.weights for n in released)

            # the window: every release set up and at weight 10 .. all at weight 40
            await wait_until("all releases at weight 10", lambda: at(10), 60 + args.m)
            window_start, before = time.time(), await stats(port)
            await wait_until("all releases at weight 40", lambda: at(40),
                             60 + args.pause * 4 + args.m)
            await asyncio.sleep(0.5)
            after = await stats(port)
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 30)

        reaction = []
        for name in released:
            for step, weight in ((1, 20), (3, 30), (5, 40)):
                started = observer.pause_started.get((name, step))
                seen = observer.weights.get((name, weight))
                if started is not None and seen is not None:
                    reaction.append((seen - (started + args.pause)) * 1000)
        planned = []  # the reconciler's own clock: the next step started (it wrote the weight)
        for name in released:
            for step in (1, 3, 5):
                a = observer.pause_started.get((name, step))
                b = observer.pause_started.get((name, step + 2))
                if a is not None and b is not None:
                    planned.append((b - (a + args.pause)) * 1000)
        changes = sum(1 for (n, w), seen in observer.weights.items()
                      if n in released and w in (20, 30, 40) and seen > window_start)
        by_kind = {k: after["writes"].get(k, 0) - before["writes"].get(k, 0)
                   for k in after["writes"]}
        writes = sum(by_kind.values())

        # baseline: the same deadlines, one plain write each
        for k in range(len(released)):
            await client.create({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": f"base{k}", "namespace": NS},
                                 "data": {"weight": "0"}})
        plan = [(f"base{k}", k * args.pause / len(released) + j * args.pause, value)
                for k in range(len(released)) for j, value in enumerate((20, 30, 40))]
        base = await asyncio.create_subprocess_exec(
            sys.executable, HERE, "--role", "baseline", "--kubeconfig", kubeconfig,
            "--plan", json.dumps(plan), stdout=asyncio.subprocess.PIPE)
        assert base.stdout is not None
        begin = json.loads(await base.stdout.readline())["start"]
        await asyncio.wait_for(base.wait(), 120)
        await asyncio.sleep(0.5)
        baseline = [
            (observer.base[(n, v)] - (begin + offset)) * 1000
            for n, offset, v in plan if (n, v) in observer.base
        ]
        await observer.stop()

    p50, p99 = percentile(reaction, 0.5), percentile(reaction, 0.99)
    b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
    return {
        "n": args.n,
        "m": args.m,
        "pause_s": args.pause,
        "qps": args.qps,
        "setup": {"create_s": round(created, 2), "adoption_s": round(adoption, 2)},
        "reaction_ms": {"p50": round(p50, 1), "p90": round(percentile(reaction, 0.9), 1),
                        "p99": round(p99, 1), "max": round(max(reaction), 1),
                        "over_100ms": sum(1 for r in reaction if r > 100),
                        "samples": len(reaction)},
        "planned_ms": {"p50": round(percentile(planned, 0.5), 1),
                       "p99": round(percentile(planned, 0.99), 1), "samples": len(planned)},
        "baseline_ms": {"p50": round(b50, 1), "p99": round(b99, 1), "samples": len(baseline)},
        "ratio": {"p50": ratio(p50, b50, 2), "p99": ratio(p99, b99, 2)},
        "writes_per_weight_change": round(writes / changes, 2) if changes else None,
        "weight_changes": changes,
        "writes_by_kind": by_kind,
        "reconciles": after["reconciles"] - before["reconciles"],
        "reconcile_seconds": {k: after["durations"][k] - before["durations"][k]
                              for k in after["durations"]},
        "results": {k: after["results"][k] - before["results"][k] for k in after["results"]},
        "reconciler_peak_rss_mb": round(rss, 1),
        "goal_at_n1000_m100": {"p99_ms": 100, "writes_per_weight_change": 3, "rss_mb": 300},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="opted-in Deployments")
    p.add_argument("--m", type=int, default=10, help="concurrent releases")
    p.add_argument("--pause", type=float, default=2.0, help="seconds of each timed pause")
    p.add_argument("--qps", type=float, default=200.0, help="reconciler's client QPS limit")
    p.add_argument("--workers", type=int, default=4, help="reconciler workers")
    p.add_argument("--idle-replicas", type=int, default=1,
                   help="replicas of the Deployments not released")
    p.add_argument("--role", choices=("driver", "reconciler", "baseline"), default="driver",
                   help=argparse.SUPPRESS)
    p.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "reconciler":
        profile = os.environ.get("CANARIST_BENCH_PROFILE")  # a file for cProfile stats
        if profile:
            import cProfile

            cProfile.runctx("asyncio.run(reconciler_main(args.kubeconfig, args.qps, "
                            "args.workers))", globals(), locals(), profile)
        else:
            asyncio.run(reconciler_main(args.kubeconfig, args.qps, args.workers))
        return
    if args.role == "baseline":
        asyncio.run(baseline_main(args.kubeconfig, args.plan))
        return
    if not 1 <= args.m <= args.n:
        p.error("need 1 <= --m <= --n")
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = str(Path(tmp, "kubeconfig"))
        with cluster_process(kubeconfig, "reconciler") as cluster:
            result = asyncio.run(drive(args, kubeconfig))
            result["cluster_peak_rss_mb"] = round(peak_rss_mb(cluster.pid), 1)
    result["machine"] = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
