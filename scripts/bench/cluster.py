#!/usr/bin/env python3
"""Benchmark of the embedded cluster; prints JSON.

Two figures, each the median of ``--repeat`` runs:

* ``up_ready``: seconds from starting ``canarist up`` (a new process) to its ready line,
  against the baseline of starting the same interpreter for ``canarist --version`` (process
  start and imports only) measured in the same run; the ratio says what the cluster adds.
  ``up_cpu_s``: the CPU seconds (user + system) the ``up`` process and its children had used
  when the ready line came (Linux ``/proc``; absent elsewhere).
* ``available``: seconds from creating ``--deployments`` Deployments of ``--replicas`` each
  (in-process, through ``ClusterAPI`` with the controllers, kubelet and garbage collector on
  one event loop) until every one reports ``availableReplicas == replicas``; with the
  per-Deployment create cost (API only, no controllers) measured in the same run as baseline.
  ``cpu_s``: this process's CPU seconds over the same span.

Run it from the root of the checkout to measure (``-m webhook.cli`` and the in-process cluster
both import the ``webhook`` package found there), so two checkouts compare in one run.

    python scripts/bench/cluster.py [--repeat 3] [--deployments 100] [--replicas 3] [--probes]
                                    [--up-arg=--without=proxy] [--skip-available]
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


def cpu_of_tree(pid: int) -> float | None:
    """User + system CPU seconds of a live process and its live children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / tick
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return None
    return own + sum(cpu_of_tree(int(c)) or 0.0 for c in children)


def time_process(args: list[str], ready: str | None) -> tuple[float, float | None]:
    """Wall seconds to exit (``ready`` None) or to the ready line, and the CPU seconds used
    by then (at the ready line only)."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    try:
        if ready is None:
            proc.wait(60)
            return time.monotonic() - start, None
        for line in proc.stdout:
            if line.startswith(ready):
                return time.monotonic() - start, cpu_of_tree(proc.pid)
        raise RuntimeError(f"{args} exited without printing {ready!r}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def bench_up(repeat: int, extra: list[str]) -> dict[str, Any]:
    cli = [sys.executable, "-m", "webhook.cli"]
    base, up, cpu = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            base.append(time_process([*cli, "--version"], None)[0])
            wall, used = time_process([*cli, "up", "--kubeconfig", f"{tmp}/kc", "--port", "0",
                                       *extra], "canarist up:")
            up.append(wall)
            if used is not None:
                cpu.append(used)
    b, u = statistics.median(base), statistics.median(up)
    out: dict[str, Any] = {"baseline_version_s": round(b, 3), "up_ready_s": round(u, 3),
                           "ratio": round(u / b, 2), "runs_up_s": [round(x, 3) for x in up]}
    if cpu:
        out.update(up_cpu_s=round(statistics.median(cpu), 3),
                   runs_up_cpu_s=[round(x, 3) for x in cpu])
    return out


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
        start, cpu = time.monotonic(), time.process_time()
        await _create_all(api, n, replicas)
        created = time.monotonic() - start
        while time.monotonic() - start < deadline:
            items, _ = await api.list(D, "default")
            done = sum(1 for d in items
                       if (d.get("status") or {}).get("availableReplicas") == replicas)
            if done == n:
                pods, _ = await api.list("pods", "default")
                return {"seconds": round(time.monotonic() - start, 3),
                        "cpu_s": round(time.process_time() - cpu, 3),
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
        out.update(available_s=round(med, 3), ratio=round(med / base, 1) if base else None,
                   cpu_s=round(statistics.median(r["cpu_s"] for r in runs if "cpu_s" in r), 3))
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
    p.add_argument("--up-arg", action="append", default=[], metavar="ARG",
                   help="pass ARG to canarist up (repeatable), e.g. --up-arg=--without=proxy")
    args = p.parse_args()
    PROBES[0] = args.probes
    result: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs", "probes": args.probes,
                              "load_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
                              "up_args": args.up_arg, "up": bench_up(args.repeat, args.up_arg)}
    if not args.skip_available:
        result["available"] = bench_available(args.repeat, args.deployments, args.replicas,
                                              args.deadline)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
