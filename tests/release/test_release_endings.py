"""Abort, retry, promote-full, a new revision mid-release, fast rollback, opt-out, deletion."""

from __future__ import annotations

from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION, ORIGINAL_SELECTOR
from webhook.release.ops import (
    CleanupRoutes,
    CreateCanary,
    DeleteCanary,
    DeleteService,
    PatchDeployment,
    PatchServiceSelector,
    RemoveRoutes,
    RouteTraffic,
    WriteStatus,
)
from webhook.spec import Phase
from webhook.spec.names import STATUS

from .sim import Sim
from .test_release_flow import proxy_sim

HEADER_STEPS = """
- setCanaryScale: {replicas: 1}
- setHeaderRoute:
    name: beta
    match: [{headerName: X-Canary, headerValue: {exact: "1"}}]
- setWeight: 20
- pause: {}
"""


def at_weight_20() -> tuple[Sim, str, str]:
    sim = proxy_sim()
    sim.run()
    v1 = sim.hash()
    sim.update_template("v2")
    sim.run()
    assert sim.router.weight == 20
    return sim, v1, sim.hash()


def test_abort_sends_traffic_back_at_once_and_scales_the_canary_away_later() -> None:
    sim, v1, _ = at_weight_20()
    sim.annotate("abort")
    first = sim.reconcile()
    assert sim.router.weight == 0
    assert (sim.router.canary_hash, sim.router.stable_hash) == (v1, v1)  # Argo #1838
    assert first.of_type(RemoveRoutes) or not sim.router.headers
    assert sim.selector("web-canary") == {"app": "web", HASH_LABEL: v1}
    assert sim.selector("web") == {"app": "web", HASH_LABEL: v1}
    assert sim.canary_replicas() == 1  # kept for abort-scale-down-delay
    assert sim.paused()
    status = sim.status
    assert status.phase == Phase.DEGRADED
    assert status.aborted_at == "2026-03-01T12:00:00Z"
    assert "canarist retry web" in status.message and v1 in status.message
    assert first.requeue_after == 30.0
    assert "canarist.io/action" not in sim.annotations

    sim.settle()
    sim.set_replicas(8)  # an HPA scaling up must not bring the dead canary back (Argo #4973)
    sim.advance(30)
    sim.reconcile()
    assert sim.canary_replicas() == 0
    sim.settle()
    assert not sim.reconcile().ops
    # re-applying the same template keeps it aborted
    sim.update_template("v2")
    sim.run()
    assert sim.status.phase == Phase.DEGRADED
    assert sim.violations == []


def test_retry_restarts_from_the_first_step() -> None:
    sim, _, v2 = at_weight_20()
    sim.annotate("abort")
    sim.run()
    sim.advance(60)
    sim.run()
    sim.annotate("retry")
    sim.reconcile()
    status = sim.status
    assert (status.phase, status.step, status.aborted_at) == (Phase.PROGRESSING, 0, None)
    assert sim.canary_replicas() == 1
    assert sim.selector("web-canary")[HASH_LABEL] == v2
    sim.settle()
    sim.run()
    assert sim.router.weight == 20 and sim.status.step == 1


def test_promote_full_waits_for_a_fully_available_canary() -> None:
    """Argo #1681: promote --full sent traffic to pods that were not ready."""
    sim, _, _ = at_weight_20()
    sim.canary_limit = 2  # the canary is slow: only 2 of 4 pods become available
    sim.annotate("promote-full")
    for _ in range(5):
        sim.reconcile()
        sim.settle()
        sim.advance(5)
        assert sim.router.weight == 20
        assert sim.paused()
    assert sim.canary_replicas() == 4
    assert sim.status.message == "promoting: scaling the canary to full capacity"
    sim.canary_limit = None
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 100
    assert sim.status.message.startswith("promoting: the stable Service selects")
    sim.advance(30)  # scale-down-delay: then the hand-over
    sim.reconcile()
    assert (sim.status.phase, sim.status.extra["handover"][:11]) == (
        Phase.PROMOTING,
        "web-canary-",
    )
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.paused()) == (Phase.HEALTHY, False)
    assert sim.violations == []


def test_promote_full_removes_header_routes() -> None:
    sim = Sim({"canarist.io/steps": HEADER_STEPS, "canarist.io/traffic-router": "proxy"})
    sim.run()
    sim.update_template("v2")
    sim.run()
    assert list(sim.router.headers) == ["beta"]
    sim.annotate("promote-full")
    sim.reconcile()
    assert sim.router.headers == {}


def test_a_new_revision_mid_release_restarts_with_weight_0_first() -> None:
    sim, v1, _ = at_weight_20()
    sim.update_template("v3")
    v3 = sim.hash()
    p = sim.reconcile()
    kinds = [type(op) for op in p.ops]
    route = kinds.index(RouteTraffic)
    assert kinds.index(DeleteCanary) > route
    assert kinds.index(CreateCanary) > kinds.index(DeleteCanary)
    first_route = p.of_type(RouteTraffic)[0]
    assert (first_route.weight, first_route.weight_first) == (0, True)
    assert sim.canary is not None
    assert sim.canary["spec"]["selector"]["matchLabels"][HASH_LABEL] == v3
    status = sim.status
    assert (status.step, status.canary_hash, status.stable_hash) == (0, v3, v1)
    assert "ReleaseRestarted" in sim.reasons()
    sim.settle()
    sim.run()
    assert sim.router.weight == 20 and sim.router.canary_hash == v3
    assert sim.violations == []


def test_header_routes_do_not_pile_up_across_revisions() -> None:
    """Argo #2769."""
    sim = Sim({"canarist.io/steps": HEADER_STEPS, "canarist.io/traffic-router": "proxy"})
    sim.run()
    sim.update_template("v2")
    sim.run()
    assert list(sim.router.headers) == ["beta"]
    sim.update_template("v3")
    sim.reconcile()
    assert sim.router.headers == {}
    sim.settle()
    sim.run()
    assert list(sim.router.headers) == ["beta"]


def test_fast_rollback_when_the_template_returns_to_stable() -> None:
    sim, v1, _ = at_weight_20()
    sim.revert("v1")
    p = sim.reconcile()
    assert sim.router.weight == 0
    assert p.of_type(RouteTraffic)[0].weight_first
    assert sim.selector("web-canary")[HASH_LABEL] == v1
    status = sim.status
    assert (status.phase, status.stable_hash, status.canary_hash) == (Phase.HEALTHY, v1, v1)
    assert status.message == f"rolled back to {v1}"
    assert not sim.paused()
    assert sim.canary_replicas() == 1
    sim.advance(30)  # abort-scale-down-delay
    sim.reconcile()
    assert sim.canary is None
    sim.settle()
    assert not sim.reconcile().ops
    assert "RolledBack" in sim.reasons()


def test_a_revert_without_the_webhook_unpausing_is_unpaused_by_the_reconciler() -> None:
    sim, _, _ = at_weight_20()
    sim.revert("v1")
    sim.d_spec["paused"] = True
    p = sim.reconcile()
    assert [op.paused for op in p.of_type(PatchDeployment)] == [False]
    assert not sim.paused()


def test_removing_the_label_mid_release_undoes_everything() -> None:
    sim, v1, _ = at_weight_20()
    sim.opt_out()
    p = sim.reconcile()
    kinds = [type(op) for op in p.ops]
    assert kinds.index(CleanupRoutes) < kinds.index(DeleteCanary)
    assert sim.router.weight == 0
    assert (sim.router.canary_hash, sim.router.stable_hash) == (v1, v1)
    assert sim.canary is None
    assert sim.selector("web") == {"app": "web"}
    annotations = sim.services["web"]["metadata"]["annotations"]
    assert MANAGED_BY_ANNOTATION not in annotations and ORIGINAL_SELECTOR not in annotations
    assert "web-canary" not in sim.services
    assert not sim.paused()
    assert STATUS not in sim.annotations
    assert "OptedOut" in sim.reasons()
    sim.settle()
    assert not sim.reconcile().ops


def test_a_deployment_never_released_opts_out_with_nothing_to_do() -> None:
    sim = Sim({"canarist.io/traffic-router": "smi"})
    sim.run()
    sim.opt_out()
    p = sim.reconcile()
    assert p.ops == (WriteStatus(None),)
    assert not sim.reconcile().ops


def test_the_proxy_route_goes_when_a_deployment_opts_out_before_any_release() -> None:
    sim = proxy_sim()
    sim.run()
    sim.opt_out()
    p = sim.reconcile()
    assert p.ops == (CleanupRoutes(), WriteStatus(None))


def test_deleting_the_deployment_restores_the_shared_service() -> None:
    sim, _, _ = at_weight_20()
    sim.delete()
    p = sim.reconcile()
    assert sim.selector("web") == {"app": "web"}
    assert sim.router.weight == 0
    assert p.of_type(CleanupRoutes)
    # what canarist created goes by ownerReference, not by the reconciler
    assert not p.of_type(DeleteService) and not p.of_type(DeleteCanary)
    assert sim.services["web-canary"]["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    assert (
        sim.canary is not None and sim.canary["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    )
    restored = [op for op in p.of_type(PatchServiceSelector) if op.name == "web"]
    assert restored[0].annotations == {MANAGED_BY_ANNOTATION: None, ORIGINAL_SELECTOR: None}
