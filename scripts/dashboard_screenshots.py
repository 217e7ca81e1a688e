#!/usr/bin/env python3
"""Regenerate the dashboard's screenshots in docs/ (``docs/dashboard-*.png``).

An embedded cluster (``canarist up`` in this process, with the webhook and the reconciler),
four managed Deployments in two namespaces put in different states the way a user would (one
released and promoted once, one held at its first pause, one aborted, one at rest), ``canarist
dashboard`` on a free port, and headless Chromium (Debian's, through Playwright) taking the
list page, a release's page and the list at 360 px wide.

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhook.cluster.runtime import start_in_thread
from webhook.kube.client import SyncClient, connect_sync
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef
from webhook.spec import ReleaseStatus
from webhook.spec.names import STATUS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
STEPS = """- setWeight: 20
- pause: {}
- setWeight: 50
- pause: {duration: 10m}
- setWeight: 80
- pause: {duration: 5m}
"""


def deploy(client: SyncClient, ns: str, name: str, router: str = "proxy") -> None:
    client.create({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": name, "namespace": ns},
                   "spec": {"selector": {"app": name},
                            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    client.create({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"canarist.io/enabled": "true"},
                     "annotations": {"canarist.io/steps": STEPS,
                                     "canarist.io/traffic-router": router}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                                       "ports": [{"containerPort": 8080}]}]}}}})


def status(client: SyncClient, ns: str, name: str) -> ReleaseStatus:
    d = client.get(ObjectRef("apps/v1", "Deployment", ns, name)) or {}
    return ReleaseStatus.from_json(((d.get("metadata") or {}).get("annotations") or {}).get(STATUS))


def wait(client: SyncClient, ns: str, name: str, check: Any, what: str) -> None:
    end = time.monotonic() + 120
    while not check(status(client, ns, name)):
        if time.monotonic() > end:
            raise SystemExit(f"{ns}/{name}: timed out waiting for {what}")
        time.sleep(0.2)


def release(client: SyncClient, ns: str, name: str) -> None:
    client.patch(ObjectRef("apps/v1", "Deployment", ns, name),
                 {"spec": {"template": {"spec": {"containers": [
                     {"name": "app", "image": "demo:v2"}]}}}}, patch_type="strategic")
    wait(client, ns, name, lambda s: s.weight == 20 and s.step == 1, "the first pause")


def act(client: SyncClient, ns: str, name: str, action: str) -> None:
    client.patch(ObjectRef("apps/v1", "Deployment", ns, name),
                 {"metadata": {"annotations": {"canarist.io/action": action}}})


def populate(client: SyncClient) -> None:
    for ns in ("shop", "blog"):
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for ns, name in (("shop", "web"), ("shop", "api"), ("blog", "front"), ("blog", "search")):
        deploy(client, ns, name)
    for ns, name in (("shop", "web"), ("blog", "front"), ("blog", "search")):
        wait(client, ns, name, lambda s: s.phase is not None, "adoption")
        release(client, ns, name)
    time.sleep(3)  # a visible stretch of the chart at 20%
    act(client, "shop", "web", "promote")
    wait(client, "shop", "web", lambda s: s.weight == 50 and s.step == 3, "weight 50")
    act(client, "blog", "search", "abort")
    wait(client, "blog", "search", lambda s: s.phase is not None and s.phase.value == "Degraded",
         "the abort")


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 560})
            page.goto(url + "/")
            page.locator("#list tbody tr").nth(3).wait_for()
            page.screenshot(path=str(out / "dashboard-list.png"))
            page.goto(url + "/releases/shop/web")
            page.locator("#d-chart svg.weights").wait_for()
            page.locator("#d-revisions .revision").nth(1).wait_for()
            page.set_viewport_size({"width": 1280, "height": 1000})
            page.screenshot(path=str(out / "dashboard-detail.png"), full_page=True)
            narrow = browser.new_page(viewport={"width": 360, "height": 740})
            narrow.goto(url + "/?attention=1")
            narrow.locator("#list tbody tr").nth(2).wait_for()
            narrow.screenshot(path=str(out / "dashboard-narrow.png"))
        finally:
            browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="directory (default docs/)")
    out = Path(ap.parse_args().out)
    cluster = start_in_thread()
    try:
        client = connect_sync(ClientOptions(kubeconfig=str(cluster.kubeconfig)))
        populate(client)
        dash = subprocess.Popen(
            [sys.executable, "-m", "webhook.cli", "dashboard", "--kubeconfig",
             str(cluster.kubeconfig), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert dash.stdout is not None
            url = dash.stdout.readline().split("on ", 1)[1].split()[0].rstrip("/")
            end = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=10).read()
                    break
                except urllib.error.HTTPError:
                    if time.monotonic() > end:
                        raise SystemExit("the dashboard did not sync") from None
                    time.sleep(0.2)
            shoot(url, out)
        finally:
            dash.terminate()
            dash.wait(20)
            client.close()
    finally:
        cluster.stop()
    for name in ("dashboard-list.png", "dashboard-detail.png", "dashboard-narrow.png"):
        print(out / name)


if __name__ == "__main__":
    main()
