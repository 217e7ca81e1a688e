#!/usr/bin/env python3
"""Benchmark of the embedded cluster; prints JSON.

Two figures, each the median of ``--repeat`` runs:

* ``up_ready``: seconds from starting ``canarist up`` (a new process) to its ready line,
  against the baseline of starting the same interpreter for ``canarist --version`` (process
  start and imports only) measured in the same run; the ratio says what the cluster adds.
* ``available``: seconds from creating ``--deployments`` Deployments of ``--replicas`` each
  (in-process, through ``ClusterAPI`` with the controllers, kubelet and garbage collector on
  one event loop) until every one reports ``availableReplicas == replicas``; with the
  per-Deployment create cost (API only, no controllers) measured in the same run as baseline.

    python scripts/bench/cluster.py [--repeat 3] [--deployments 100] [--replicas 3] [--probes]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from webhook.cluster.api import ClusterAPI
from webhook.cluster.runtime import Cluster

D = "deployments.apps"


PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
PROBES = [False]  # --probes: every pod gets a readinessProbe the kubelet really runs


def deployment(i: int, replicas: int) -> dict[str, Any]:
    labels = {"app": f"app{i}"}
    container: dict[str, Any] = {"name": "app", "image": "demo:v1",
                                 "ports": [{"containerPort": 8080}]}
    if PROBES[0]:
        container["readinessProbe"] = PROBE
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app{i}"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container]}}}}


def time_process(args: list[str], ready: str | None) -> float:
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    try:
        if ready is None:
            proc.wait(60)
            return time.monotonic() - start
        for line in proc.stdout:
            if line.startswith(ready):
                return time.monotonic() - start
        raise RuntimeError(f"{args} exited without printing {ready!r}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def bench_up(repeat: int) -> dict[str, Any]:
    cli = [sys.executable, "-m", "webhook.cli"]
    base, up = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            base.append(time_process([*cli, "--version"], None))
            up.append(time_process([*cli, "up", "--kubeconfig", f"{tmp}/kc", "--port", "0"],
                                   "canarist up:"))
    b, u = statistics.median(base), statistics.median(up)
    return {"baseline_version_s": round(b, 3), "up_ready_s": round(u, 3),
            "ratio": round(u / b, 2), "runs_up_s": [round(x, 3) for x in up]}


async def _create_all(api: ClusterAPI, n: int, replicas: int) -> None:
    for i in range(n):
        await api.create(D, "default", deployment(i, replicas))


async def _available(n: int, replicas: int, deadline: float) -> dict[str, Any]:
    cluster = Cluster(without=frozenset({"webhook"}))
    await cluster.start()
    missing = [c for c in ("controllers", "kubelet") if c not in cluster.started]
    try:
        if missing:
            return {"skipped": f"components not available: {', '.join(missing)}"}
        api = cluster.api
        start = time.monotonic()
        await _create_all(api, n, replicas)
        created = time.monotonic() - start
        while time.monotonic() - start < deadline:
            items, _ = await api.list(D, "default")
            done = sum(1 for d in items
                       if (d.get("status") or {}).get("availableReplicas") == replicas)
            if done == n:
                pods, _ = await api.list("pods", "default")
                return {"seconds": round(time.monotonic() - start, 3),
                        "create_seconds": round(created, 3), "pods": len(pods)}
            await asyncio.sleep(0.1)
        return {"timeout_s": deadline, "available": done}
    finally:
        await cluster.stop()


async def _create_only(n: int, replicas: int) -> float:
    api = ClusterAPI()
    start = time.monotonic()
    await _create_all(api, n, replicas)
    return time.monotonic() - start


def bench_available(repeat: int, n: int, replicas: int, deadline: float) -> dict[str, Any]:
    runs = [asyncio.run(_available(n, replicas, deadline)) for _ in range(repeat)]
    base = statistics.median(asyncio.run(_create_only(n, replicas)) for _ in range(repeat))
    ok = [r["seconds"] for r in runs if "seconds" in r]
    out: dict[str, Any] = {"deployments": n, "replicas": replicas,
                           "baseline_create_only_s": round(base, 3), "runs": runs}
    if ok:
        med = statistics.median(ok)
        out.update(available_s=round(med, 3), ratio=round(med / base, 1) if base else None)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--deployments", type=int, default=100)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--deadline", type=float, default=120.0,
                   help="give up waiting for availability after this many seconds")
    p.add_argument("--skip-available", action="store_true")
    p.add_argument("--probes", action="store_true",
                   help="give every pod an httpGet readinessProbe (period 1 s)")
    args = p.parse_args()
    PROBES[0] = args.probes
    result: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs", "probes": args.probes,
                              "up": bench_up(args.repeat)}
    if not args.skip_available:
        result["available"] = bench_available(args.repeat, args.deployments, args.replicas,
                                              args.deadline)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
