"""Fixtures for the dashboard: the whole product on the embedded cluster (admission webhook and
reconciler included), ``canarist dashboard`` as a real process, releases held at a step, and
headless Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.release import Cluster, DashboardProcess
from webhook.cluster.runtime import RunningCluster, start_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def product() -> Iterator[RunningCluster]:
    """The embedded cluster with canarist's admission webhook and reconciler, as ``up`` runs
    (per module: its reconciler and pods do not outlive the dashboard's tests)."""
    cluster = start_in_thread()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def kube(product: RunningCluster) -> Iterator[Cluster]:
    c = Cluster(product)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def dashboard(product: RunningCluster) -> Iterator[DashboardProcess]:
    """``canarist dashboard`` with no flags but the kubeconfig and a free port."""
    with DashboardProcess.run(product.kubeconfig) as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module: Playwright's sync API holds an event loop while it runs, so it
    must be gone before any asyncio test of another module starts."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (scripts/venv.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield p
    finally:
        context.close()
    assert errors == [], f"errors in the page: {errors}"
