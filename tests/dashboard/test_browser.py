"""The dashboard in headless Chromium (Playwright) against ``canarist dashboard`` on the
embedded cluster, with the admission webhook and the reconciler releasing for real."""

from __future__ import annotations

import contextlib
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboard.release import Cluster, DashboardProcess
from tests.proxy.test_process import Running
from webhook.cluster.runtime import RunningCluster
from webhook.kube.protocol import ObjectRef
from webhook.spec.names import ACTION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three(kube: Cluster) -> tuple[str, str]:
    """Three managed Deployments in two namespaces: two held at a pause, one at rest."""
    shop, blog = kube.namespace("shop"), kube.namespace("blog")
    for ns, name in ((shop, "web"), (shop, "api"), (blog, "front")):
        kube.deploy(ns, name)
    kube.release(shop, "web")
    kube.release(blog, "front")
    return shop, blog


def detail_url(d: DashboardProcess, ns: str, name: str) -> str:
    return f"{d.url}/releases/{ns}/{name}"


def row(page: Any, key: str) -> Any:
    return page.locator(f'#list tbody tr[data-key="{key}"]')


def test_the_list_shows_every_namespace_with_phases_and_filters_in_the_url(
        page: Any, dashboard: DashboardProcess, three: tuple[str, str]) -> None:
    shop, blog = three
    page.goto(dashboard.url + "/")
    for key, phase in ((f"{shop}/web", "Paused"), (f"{shop}/api", "Healthy"),
                       (f"{blog}/front", "Paused")):
        row(page, key).wait_for()
        assert row(page, key).get_attribute("data-phase") == phase
        assert row(page, key).locator(".phase").inner_text().endswith(phase)
    assert page.locator("#live").inner_text() == "Live"
    # filters are kept in the URL and read back from it
    page.select_option("#f-ns", shop)
    page.check("#f-attention")
    assert f"ns={shop}" in page.url and "attention=1" in page.url
    keys = page.locator("#list tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)")
    assert keys == [f"{shop}/web"]
    page.goto(f"{dashboard.url}/?ns={blog}&phase=Paused")
    row(page, f"{blog}/front").wait_for()
    assert page.locator("#list tbody tr").count() == 1
    assert page.locator("#f-ns").input_value() == blog
    assert page.locator("#f-phase").input_value() == "Paused"


def test_promote_by_click_shows_the_next_step_without_a_reload(
        page: Any, dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("promo")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    page.goto(detail_url(dashboard, ns, "web"))
    page.locator("#d-phase").get_by_text("Paused").wait_for()
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Promote", exact=True).click()
    dialog = page.locator("#confirm")
    assert dialog.is_visible()
    assert dialog.locator("#confirm-text").inner_text() == (
        "Skips step 2/4 (pause); the release goes on with step 3/4 (setWeight 50).")
    dialog.get_by_role("button", name="Promote", exact=True).click()
    # the reconciler takes step 3 (weight 50) and stops at the next pause: the page follows
    summary = page.locator("#d-summary")
    summary.get_by_text("50% applied").wait_for()
    page.locator("#d-steps li.current").get_by_text("pause").wait_for()
    assert page.locator("#d-steps li.current").inner_text().startswith("pause")
    assert kube.status(ns, "web").step == 3
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    page.locator("#d-result").get_by_text("annotated: canarist.io/action=promote").wait_for()


def test_abort_by_click(page: Any, dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("abort")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    page.goto(detail_url(dashboard, ns, "web"))
    page.locator("#d-phase").get_by_text("Paused").wait_for()
    page.get_by_role("button", name="Abort", exact=True).click()
    text = page.locator("#confirm-text").inner_text()
    assert text.startswith("Sends all traffic back to the stable revision")
    page.locator("#confirm").get_by_role("button", name="Abort").click()
    page.locator("#d-phase").get_by_text("Degraded").wait_for()
    assert kube.status(ns, "web").phase is not None
    assert kube.status(ns, "web").phase.value == "Degraded"  # type: ignore[union-attr]
    # now Retry is offered; Promote is marked disabled (still focusable) and says why
    promote = page.get_by_role("button", name="Promote", exact=True)
    assert promote.get_attribute("aria-disabled") == "true"
    assert page.locator("#why-promote").inner_text() == (
        "Promote is not available: the release is aborted; retry it, or promote --full")
    promote.focus()
    page.keyboard.press("Enter")
    page.locator("#d-result").get_by_text(
        "Promote refused: the release is aborted; retry it, or promote --full").wait_for()
    assert not page.locator("#confirm").is_visible()


def test_undo_by_click_rolls_back_to_stable(page: Any, dashboard: DashboardProcess,
                                             kube: Cluster) -> None:
    ns = kube.namespace("undo")
    kube.deploy(ns, "web")
    status = kube.release(ns, "web")
    page.goto(detail_url(dashboard, ns, "web"))
    page.locator("#d-phase").get_by_text("Paused").wait_for()
    page.get_by_role("button", name="Undo", exact=True).click()
    text = page.locator("#confirm-text")
    text.get_by_text("Rolls back to the stable revision").wait_for()
    assert text.inner_text() == (
        f"Rolls back to the stable revision 1 ({status.stable_hash}) (the release in progress is "
        "dropped): the template goes back and no step runs.")
    page.locator("#confirm").get_by_role("button", name="Undo").click()
    page.locator("#d-phase").get_by_text("Healthy").wait_for()
    page.locator("#d-summary").get_by_text("no release in progress").wait_for()
    d = kube.deployment(ns, "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:v1"
    assert kube.status(ns, "web").canary_hash == status.stable_hash


def test_without_event_streams_the_page_polls(page: Any, dashboard: DashboardProcess,
                                              kube: Cluster) -> None:
    """A proxy that cannot hold a stream (here: every stream request fails): the page says it
    polls, and still shows changes without a reload."""
    ns = kube.namespace("poll")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    page.route("**/stream", lambda route: route.abort())
    page.goto(f"{dashboard.url}/?ns={ns}")
    page.locator("#live").get_by_text("Polling every 5 s").wait_for()
    row(page, f"{ns}/web").get_by_text("20%").wait_for()
    page.evaluate("window.__sameDocument = true")
    kube.annotate(ns, "web", "promote")
    row(page, f"{ns}/web").get_by_text("50%").wait_for()
    assert page.evaluate("window.__sameDocument") is True


def test_the_weight_chart_has_a_point_per_weight_change(
        page: Any, dashboard: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("chart")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    kube.annotate(ns, "web", "promote")
    kube.wait(ns, "web", "weight 50", lambda s, d: s.weight == 50 and s.step == 3)
    history = kube.history(ns, "web")
    changes = [p.weight for i, p in enumerate(history.points)
               if i == 0 or p.weight != history.points[i - 1].weight]
    assert changes[-2:] == [20, 50]  # (and 0 first, unless that plan raced another write)
    page.goto(detail_url(dashboard, ns, "web"))
    points = page.locator("#d-chart svg.weights circle.pt-applied")
    points.nth(len(changes) - 1).wait_for()
    assert points.evaluate_all("cs => cs.map(c => Number(c.dataset.weight))") == changes
    ats = points.evaluate_all("cs => cs.map(c => Number(c.dataset.at))")
    assert ats == [p.at for i, p in enumerate(history.points)
                   if i == 0 or p.weight != history.points[i - 1].weight]
    title = page.locator("#d-chart svg.weights title").first
    assert title.text_content() == "Canary weight over time"
    # a dashboard restart loses nothing: the history is in the cluster
    with DashboardProcess.run(kube.cluster.kubeconfig) as fresh:
        page.goto(detail_url(fresh, ns, "web"))
        page.locator("#d-chart svg.weights circle.pt-applied").nth(len(changes) - 1).wait_for()
        assert page.locator("#d-chart svg.weights circle.pt-applied").count() == len(changes)


@pytest.fixture(scope="module")
def read_only(product: RunningCluster) -> Iterator[DashboardProcess]:
    with DashboardProcess.run(product.kubeconfig, "--read-only") as d:
        yield d


def test_read_only_has_no_buttons_and_refuses_a_crafted_post(
        page: Any, read_only: DashboardProcess, kube: Cluster) -> None:
    ns = kube.namespace("ro")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    page.goto(detail_url(read_only, ns, "web"))
    page.locator("#d-phase").get_by_text("Paused").wait_for()
    page.locator("#d-steps li.current").wait_for()
    assert page.locator("#mode").inner_text() == "read-only"
    assert page.locator("#d-actions button").count() == 0
    assert page.locator("button", has_text=re.compile("Promote|Abort|Retry|Undo")).count() == 0
    crafted = read_only.act(ns, "web", "promote")
    assert crafted.status == 403
    assert crafted.json() == {"error": "refused: the dashboard is read-only (--read-only)"}
    assert ACTION not in kube.annotations(ns, "web")
    assert kube.status(ns, "web").step == 1


@pytest.fixture(scope="module")
def with_tokens(product: RunningCluster) -> Iterator[DashboardProcess]:
    with DashboardProcess.run(product.kubeconfig, "--auth", "token") as d:
        yield d


def test_token_mode_shows_permission_denied_and_changes_nothing(
        page: Any, with_tokens: DashboardProcess, kube: Cluster) -> None:
    ns, other = kube.namespace("tok"), kube.namespace("tokother")
    kube.deploy(ns, "web")
    kube.deploy(other, "hidden")
    kube.release(ns, "web")
    viewer = kube.token(ns, "viewer", [("get,list,watch", "deployments.apps", ns),
                                       ("get,list,watch", "pods,events", ns)])
    page.goto(with_tokens.url + "/")
    page.get_by_label("Bearer token", exact=True).fill(viewer)
    page.get_by_role("button", name="Use token").click()
    row(page, f"{ns}/web").wait_for()
    assert row(page, f"{other}/hidden").count() == 0  # RBAC: not readable, not shown
    assert page.evaluate("location.href").find(viewer) == -1  # never in the URL
    row(page, f"{ns}/web").get_by_role("link", name="web").click()
    page.locator("#d-phase").get_by_text("Paused").wait_for()
    page.get_by_role("button", name="Promote", exact=True).click()
    page.locator("#confirm").get_by_role("button", name="Promote").click()
    result = page.locator("#d-result")
    result.get_by_text("Permission denied").wait_for()
    assert f'User "system:serviceaccount:{ns}:viewer" cannot patch' in result.inner_text()
    assert ACTION not in kube.annotations(ns, "web")
    assert kube.status(ns, "web").step == 1
    # the token stays in this tab's session storage only, and can be forgotten
    assert page.evaluate("sessionStorage.getItem('canarist-token')") == viewer
    page.get_by_role("button", name="Forget token").click()
    page.get_by_label("Bearer token", exact=True).wait_for()
    assert page.evaluate("sessionStorage.getItem('canarist-token')") is None


def test_narrow_screen_and_keyboard(browser: Any, dashboard: DashboardProcess, kube: Cluster
                                    ) -> None:
    ns = kube.namespace("narrow")
    kube.deploy(ns, "web")
    kube.release(ns, "web")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{dashboard.url}/?ns={ns}")
        row(page, f"{ns}/web").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # every form control has a label
        unlabelled = page.evaluate("""[...document.querySelectorAll('input, select')]
            .filter(e => !e.labels || !e.labels.length).map(e => e.id)""")
        assert unlabelled == []
        page.goto(detail_url(dashboard, ns, "web"))
        page.locator("#d-phase").get_by_text("Paused").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        promote = page.get_by_role("button", name="Promote", exact=True)
        promote.focus()
        page.keyboard.press("Enter")
        assert page.locator("#confirm").is_visible()
        assert page.evaluate("document.activeElement.id") == "confirm-cancel"
        page.keyboard.press("Escape")
        assert not page.locator("#confirm").is_visible()
        assert ACTION not in kube.annotations(ns, "web")
        # a live update that changes no action keeps the buttons, and the keyboard focus
        promote.focus()
        uid = kube.deployment(ns, "web")["metadata"]["uid"]
        kube.client.create({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "note", "namespace": ns},
            "involvedObject": {"kind": "Deployment", "namespace": ns, "name": "web",
                               "uid": uid, "apiVersion": "apps/v1"},
            "reason": "Noted", "message": "a note", "type": "Normal", "count": 1,
            "source": {"component": "someone"}})
        page.locator("#d-events").get_by_text("a note").wait_for()
        assert page.evaluate("document.activeElement.dataset.action") == "promote"
    finally:
        context.close()


def test_request_and_error_rates_from_canarist_proxy(
        page: Any, product: RunningCluster, kube: Cluster, tmp_path: Path) -> None:
    """A real ``canarist proxy`` in front of the release's pods (the canary answers half its
    requests with 500): the dashboard reads its admin ``/summary`` and draws both versions."""
    ns = kube.namespace("rates")
    kube.deploy(ns, "ratesweb")
    status = kube.release(ns, "ratesweb", DEMO_ERROR_RATE="0.5")
    pods = kube.client.list("v1", "Pod", ns)
    by_hash: dict[str, list[str]] = {}
    for p in pods:
        version = p["metadata"]["labels"].get("rollouts-pod-template-hash", "")
        by_hash.setdefault(version, []).append(f"{p['status']['podIP']}:8080")
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump({"routes": [{
        "name": "ratesweb", "stable": {"endpoints": by_hash[status.stable_hash]},
        "canary": {"endpoints": by_hash[status.canary_hash]}, "weight": 50}]}))
    proxy = Running(["--routes", str(routes), "--listen", "127.0.0.1:0",
                     "--admin-listen", "127.0.0.1:0"]).started()
    try:
        admin = f"http://127.0.0.1:{proxy.admin}"
        with DashboardProcess.run(product.kubeconfig, "--proxy-admin-url", admin) as d:
            end = time.monotonic() + 60
            while True:
                for _ in range(20):
                    with contextlib.suppress(urllib.error.HTTPError):
                        urllib.request.urlopen(proxy.url + "/", timeout=10).read()
                rates = d.get(f"/api/v1/releases/{ns}/ratesweb").json()["rates"]
                samples = rates["samples"]
                if samples and samples[-1][1] > 0 and samples[-1][4] > 0:
                    break
                assert time.monotonic() < end, rates
                time.sleep(1)
            assert rates["enabled"] and rates["route"] == "ratesweb" and rates["problem"] == ""
            _, stable_req, stable_err, canary_req, canary_err = samples[-1]
            assert stable_req > 0 and stable_err == 0 and canary_req > 0 and canary_err > 0
            page.goto(detail_url(d, ns, "ratesweb"))
            legend = page.locator("#d-rates .legend")
            legend.get_by_text("canary errors/s").wait_for()
            assert page.locator("#d-rates svg.rates path.canary-err").count() == 1
    finally:
        proxy.stop()


def test_no_markup_from_the_cluster(page: Any, dashboard: DashboardProcess, kube: Cluster
                                    ) -> None:
    ns = kube.namespace("xss")
    kube.deploy(ns, "web")
    evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    uid = kube.deployment(ns, "web")["metadata"]["uid"]
    kube.client.create({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "evil", "namespace": ns},
        "involvedObject": {"kind": "Deployment", "namespace": ns, "name": "web", "uid": uid,
                           "apiVersion": "apps/v1"},
        "reason": "Evil", "message": evil, "type": "Warning", "count": 1,
        "source": {"component": "someone"}})
    page.goto(detail_url(dashboard, ns, "web"))
    cell = page.locator("#d-events td", has_text="window.__pwned")
    cell.wait_for()
    assert cell.inner_text() == evil
    assert page.locator("#d-events img, #d-events script").count() == 0
    assert page.evaluate("window.__pwned") is None
    ref = ObjectRef("v1", "Event", ns, "evil")
    assert kube.client.get(ref) is not None
