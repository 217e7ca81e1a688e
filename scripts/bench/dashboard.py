#!/usr/bin/env python3
"""Benchmark of ``canarist dashboard`` at scale; prints JSON.

Processes: the embedded cluster with the admission webhook (``canarist up --without
reconciler``), the reconciler (``canarist reconcile``, in a process of its own as in a cluster),
``canarist dashboard`` (default flags), headless Chromium (Playwright, Debian's chromium), and
this driver. The driver creates ``--n`` managed Deployments (one pod each, router ``proxy``)
over ``--namespaces`` namespaces, waits until canarist adopted them, starts ``--m`` releases and
waits until each is held at its first pause; then:

* ``list_load_s``: from navigation to the list page showing every row (``--loads`` loads,
  median and max), in Chromium; ``api_list_s``: ``GET /api/v1/releases`` alone (median);
* baselines, same run: ``static_load_s``, the same browser loading a static file from the
  dashboard (navigation alone); ``kube_list_s``, the official client listing the same
  Deployments from the API server (what a page would wait for without a cache); and
  ``bare_rss_mb``, a Python process that imported what the dashboard imports and holds nothing;
* ``pages``: ``--pages`` pages open at once (half the list, half a release's page), each with
  its event stream; while they are open ``--promote`` releases are promoted, and every page
  must show it. ``api_requests_while_open`` counts the requests the dashboard sent to the API
  server meanwhile (one cache: 0), ``streams`` what the dashboard counted;
* ``rss_mb`` / ``peak_rss_mb``: the dashboard's resident memory after all that (VmRSS, VmHWM).

    python scripts/bench/dashboard.py --n 300 --m 30 --pages 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._common import ROOT, cluster_process, peak_rss_mb, ratio
from webhook.kube.client import SyncClient, connect_sync
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import JSON, ObjectRef
from webhook.spec import ReleaseStatus
from webhook.spec.names import STATUS

STEPS = "- setWeight: 20\n- pause: {}\n- setWeight: 50\n- pause: {}\n"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``canarist ARGS...`` for the length of the block."""
    proc = subprocess.Popen([sys.executable, "-m", "webhook.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def objects(ns: str, i: int) -> list[JSON]:
    name = f"app{i}"
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "labels": {"canarist.io/enabled": "true"},
                      "annotations": {"canarist.io/steps": STEPS,
                                      "canarist.io/traffic-router": "proxy"}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                                        "ports": [{"containerPort": 8080}]}]}}}},
    ]


def statuses(client: SyncClient) -> list[ReleaseStatus]:
    items = client.list("apps/v1", "Deployment", "", label_selector="canarist.io/enabled=true")
    return [ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS))
            for d in items]


def wait(what: str, count: Any, want: int, within: float) -> None:
    """Until ``count()`` reaches ``want``; progress on stderr every 10 s."""
    start = time.monotonic()
    said = start
    while (got := count()) < want:
        now = time.monotonic()
        if now - start > within:
            raise SystemExit(f"timed out waiting for {what}: {got} of {want}")
        if now - said > 10:
            print(f"{what}: {got} of {want} after {now - start:.0f}s", file=sys.stderr)
            said = now
        time.sleep(0.5)


def setup(client: SyncClient, args: argparse.Namespace) -> list[tuple[str, str]]:
    names = []
    spaces = [f"dash{j}" for j in range(args.namespaces)]
    for ns in spaces:
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(args.n):
        ns = spaces[i % len(spaces)]
        for obj in objects(ns, i):
            client.create(obj)
        names.append((ns, f"app{i}"))
    wait("adoption", lambda: sum(s.phase is not None for s in statuses(client)), args.n,
         120 + 2 * args.n)
    for ns, name in names[: args.m]:
        client.patch(ObjectRef("apps/v1", "Deployment", ns, name),
                     {"spec": {"template": {"spec": {"containers": [
                         {"name": "app", "image": "demo:v2"}]}}}}, patch_type="strategic")
    wait("the releases' first pause",
         lambda: sum(s.phase is not None and s.phase.value == "Paused" and s.weight == 20
                     for s in statuses(client)), args.m, 120 + args.m * 4)
    return names


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        body: bytes = resp.read()
        return body


def healthy(url: str) -> bool:
    try:
        return get(url + "/healthz") == b"ok\n"
    except urllib.error.HTTPError:
        return False


def metric(url: str, name: str) -> float:
    text = get(url + "/metrics").decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name))


def bare_rss() -> float:
    code = ("import aiohttp.web, kubernetes.client, webhook.dashboard.app, time, os;"
            "print(os.getpid(), flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        return rss_mb(pid)
    finally:
        proc.kill()
        proc.wait()


def browse(url: str, args: argparse.Namespace, names: list[tuple[str, str]],
           client: SyncClient) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            blank = []
            for _ in range(args.loads):  # baseline: the browser loading a static file from here
                t = time.monotonic()
                page.goto(url + "/static/favicon.svg")
                blank.append(time.monotonic() - t)
            out["static_load_s"] = round(statistics.median(blank), 3)
            loads = []
            for _ in range(args.loads):
                t = time.monotonic()
                page.goto(url + "/")
                page.locator("#list tbody tr").nth(args.n - 1).wait_for(timeout=60_000)
                loads.append(time.monotonic() - t)
            page.close()
            out["list_load_s"] = {"median": round(statistics.median(loads), 3),
                                  "max": round(max(loads), 3)}
            pages = []
            before = metric(url, "canarist_dashboard_api_requests_total")
            for i in range(args.pages):
                p = browser.new_page()
                target = "/" if i % 2 == 0 else "/releases/{}/{}".format(*names[i % args.m])
                p.goto(url + target)
                p.locator("#live").get_by_text("Live").wait_for(timeout=60_000)
                pages.append(p)
            out["streams"] = metric(url, "canarist_dashboard_streams")
            promoted = names[: args.promote]
            for ns, name in promoted:
                client.patch(ObjectRef("apps/v1", "Deployment", ns, name),
                             {"metadata": {"annotations": {"canarist.io/action": "promote"}}})
            t = time.monotonic()
            for i, p in enumerate(pages):
                if i % 2 == 0:
                    for ns, name in promoted:
                        p.locator(f'#list tbody tr[data-key="{ns}/{name}"]').get_by_text(
                            "50%").wait_for(timeout=60_000)
                elif names[i % args.m] in promoted:
                    p.locator("#d-summary").get_by_text("50% applied").wait_for(timeout=60_000)
            out["pages_updated_s"] = round(time.monotonic() - t, 3)
            out["api_requests_while_open"] = (
                metric(url, "canarist_dashboard_api_requests_total") - before)
            for p in pages:
                p.close()
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="managed Deployments")
    ap.add_argument("--m", type=int, default=30, help="releases in progress")
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--pages", type=int, default=20, help="pages open at once")
    ap.add_argument("--promote", type=int, default=5, help="releases promoted while open")
    ap.add_argument("--loads", type=int, default=5, help="list page loads measured")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the processes too
    if not (0 < args.m <= args.n and 0 < args.promote <= args.m and args.pages > 0):
        ap.error("need 0 < --promote <= --m <= --n and --pages > 0")
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = str(Path(tmp, "kubeconfig"))
        with cluster_process(kubeconfig, without="reconciler"), \
                process("reconcile", "--kubeconfig", kubeconfig, "--qps", "0"):
            client = connect_sync(ClientOptions(kubeconfig=kubeconfig, qps=0))
            t = time.monotonic()
            names = setup(client, args)
            setup_s = time.monotonic() - t
            kube = []
            for _ in range(args.loads):
                t = time.monotonic()
                client.list("apps/v1", "Deployment", "", label_selector="canarist.io/enabled=true")
                kube.append(time.monotonic() - t)
            dash = subprocess.Popen(
                [sys.executable, "-m", "webhook.cli", "dashboard", "--kubeconfig", kubeconfig,
                 "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            try:
                assert dash.stdout is not None
                url = dash.stdout.readline().split("on ", 1)[1].split()[0].rstrip("/")
                t = time.monotonic()
                wait("the dashboard's cache", lambda: int(healthy(url)), 1, 120)
                synced_s = time.monotonic() - t
                api = []
                for _ in range(args.loads):
                    t = time.monotonic()
                    get(url + "/api/v1/releases")
                    api.append(time.monotonic() - t)
                result = browse(url, args, names, client)
                result.update({
                    "n": args.n, "m": args.m, "namespaces": args.namespaces,
                    "pages": args.pages, "setup_s": round(setup_s, 1),
                    "cache_sync_s": round(synced_s, 3),
                    "api_list_s": round(statistics.median(api), 3),
                    "kube_list_s": round(statistics.median(kube), 3),
                    "list_load_vs_static_load": ratio(result["list_load_s"]["median"],
                                                      result["static_load_s"]),
                    "api_list_vs_kube_list": ratio(statistics.median(api),
                                                   statistics.median(kube)),
                    "rss_mb": round(rss_mb(dash.pid), 1),
                    "peak_rss_mb": round(peak_rss_mb(dash.pid), 1),
                    "bare_rss_mb": round(bare_rss(), 1),
                    "load_average": os.getloadavg()[0],
                })
            finally:
                dash.terminate()
                dash.wait(20)
                client.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
