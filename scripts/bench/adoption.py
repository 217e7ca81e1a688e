"""Adoption on ``canarist up``: N labelled Deployments (and their Services) applied at once, the
time until ``up``'s own reconciler has adopted every one (its ``canarist.io/status`` written).

Measured for the ``proxy`` router (the canary Service and the route table's ConfigMap are
written before the status, so plans of different Deployments overlap in the reconciler's
workers) against router ``none`` (the status only) in the same run, same cluster, alternating
namespaces. Prints JSON: per router the median seconds of ``--rounds`` rounds and the ratio.

    .venv/bin/python scripts/bench/adoption.py --n 40 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import cluster_process, ratio


def manifests(ns: str, n: int, router: str) -> str:
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
    for i in range(n):
        app = {"app": f"web{i}"}
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": f"web{i}", "namespace": ns},
                     "spec": {"selector": app, "ports": [{"port": 80, "targetPort": 8080}]}})
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"web{i}", "namespace": ns,
                         "labels": {**app, "canarist.io/enabled": "true"},
                         "annotations": {"canarist.io/steps": "- setWeight: 20\n- pause: {}\n",
                                         "canarist.io/traffic-router": router}},
            "spec": {"replicas": 1, "selector": {"matchLabels": app},
                     "template": {"metadata": {"labels": app},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "demo:v1"}]}}}})
    return yaml.safe_dump_all(docs)


def adopted(kubeconfig: str, ns: str) -> int:
    out = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "deployments",
                          "-o", "json"], capture_output=True, text=True, timeout=60, check=True)
    items = json.loads(out.stdout)["items"]
    return sum(1 for d in items
               if "canarist.io/status" in (d["metadata"].get("annotations") or {}))


def one(kubeconfig: str, ns: str, n: int, router: str, limit: float) -> float:
    """Seconds from the apply until all ``n`` are adopted (``limit`` when they never are)."""
    start = time.monotonic()
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"],
                   input=manifests(ns, n, router), capture_output=True, text=True, timeout=120,
                   check=True)
    while time.monotonic() - start < limit:
        if adopted(kubeconfig, ns) >= n:
            return time.monotonic() - start
        time.sleep(0.25)
    return limit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=float, default=120.0, help="seconds before a round gives up")
    args = ap.parse_args()
    times: dict[str, list[float]] = {"none": [], "proxy": []}
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = str(Path(tmp) / "kubeconfig")
        with cluster_process(kubeconfig, ""):
            for r in range(args.rounds):
                for router in ("none", "proxy"):
                    times[router].append(
                        one(kubeconfig, f"{router}{r}", args.n, router, args.limit))
    result: dict[str, Any] = {"n": args.n, "rounds": args.rounds}
    for router, values in times.items():
        result[f"{router}_s"] = round(statistics.median(values), 2)
        result[f"{router}_all_s"] = [round(v, 2) for v in values]
    result["proxy_over_none"] = ratio(result["proxy_s"], result["none_s"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
