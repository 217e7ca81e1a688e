"""Router none, sticky canary scale, header and mirror routes, dynamic stable scale, weight
verification, adopted Deployments, user actions, and what blocks a release."""

from __future__ import annotations

import pytest

from webhook.release.names import HASH_LABEL, POD_TEMPLATE_HASH
from webhook.release.ops import PatchDeployment, RouteTraffic, WriteStatus
from webhook.spec import Phase
from webhook.spec.names import STATUS

from .sim import Sim
from .test_release_endings import HEADER_STEPS
from .test_release_flow import STEPS, proxy_sim


def released(sim: Sim, version: str = "v2") -> Sim:
    sim.run()
    sim.update_template(version)
    sim.run()
    return sim


def test_router_none_splits_by_pod_count_and_never_pins_the_users_service() -> None:
    sim = released(Sim({"canarist.io/steps": STEPS}, replicas=4))
    assert sim.selector("web") == {"app": "web"}
    assert sim.canary_replicas() == 1  # 1 of 5 pods: 20%
    status = sim.status
    assert (status.phase, status.step, status.weight) == (Phase.PAUSED, 1, 20)
    assert sim.router.writes == 0
    sim.advance(30)
    sim.run()
    assert sim.canary_replicas() == 4  # 4 of 8 pods: 50%
    assert sim.status.weight == 50
    sim.set_replicas(6)  # an HPA resizes the Deployment: the canary follows
    sim.settle()
    sim.run()
    assert sim.canary_replicas() == 6
    sim.annotate("promote")
    sim.reconcile()
    assert not sim.paused()  # no weight 100 with router none: the Deployment rolls out
    assert sim.phase() == Phase.PROMOTING
    sim.settle()
    sim.run()
    assert sim.phase() == Phase.HEALTHY
    assert sim.selector("web") == {"app": "web"}
    assert sim.selector("web-canary")[HASH_LABEL] == sim.hash()
    sim.advance(30)
    sim.run()
    assert sim.canary is None


def test_router_none_abort_removes_the_canary_pods_at_once() -> None:
    sim = released(Sim({"canarist.io/steps": STEPS}))
    sim.annotate("abort")
    sim.reconcile()
    assert sim.canary_replicas() == 0
    assert sim.status.phase == Phase.DEGRADED


def test_an_hpa_resizing_mid_release_resizes_the_canary() -> None:
    sim = released(proxy_sim(replicas=10))
    assert sim.canary_replicas() == 2
    sim.set_replicas(20)
    sim.settle()
    sim.run()
    assert sim.canary_replicas() == 4
    assert sim.router.weight == 20


def test_set_canary_scale_sticks_until_match_traffic_weight() -> None:
    steps = """
- setCanaryScale: {weight: 10}
- setWeight: 90
- pause: {}
- setCanaryScale: {matchTrafficWeight: true}
- pause: {}
"""
    sim = released(
        Sim({"canarist.io/steps": steps, "canarist.io/traffic-router": "proxy"}, replicas=10)
    )
    assert sim.canary_replicas() == 1
    assert sim.router.weight == 90  # Argo's documented example: 90% to 1 pod
    sim.annotate("promote")
    sim.run()
    assert sim.canary_replicas() == 9


def test_header_route_waits_for_a_canary_pod_and_is_removed_on_abort() -> None:
    sim = Sim({"canarist.io/steps": HEADER_STEPS, "canarist.io/traffic-router": "proxy"})
    sim.run()
    sim.update_template("v2")
    sim.reconcile()
    assert sim.router.headers == {}  # no canary pod yet
    sim.settle()
    sim.run()
    assert list(sim.router.headers) == ["beta"]
    assert sim.status.header_routes == ("beta",)
    sim.annotate("abort")
    sim.reconcile()
    assert sim.router.headers == {} and sim.router.weight == 0
    status = sim.status
    assert status.header_routes == ()


def test_header_routes_stay_until_weight_0_after_promotion() -> None:
    sim = Sim({"canarist.io/steps": HEADER_STEPS, "canarist.io/traffic-router": "proxy"})
    released(sim)
    sim.annotate("promote")
    sim.run()
    assert sim.router.headers == {}
    assert sim.status.phase == Phase.HEALTHY


def test_mirror_route() -> None:
    steps = """
- setCanaryScale: {replicas: 1}
- setMirrorRoute: {name: shadow, percentage: 35, match: [{method: {exact: GET}}]}
- pause: {}
- setMirrorRoute: {name: shadow}
- setWeight: 10
- pause: {}
"""
    sim = released(
        Sim(
            {
                "canarist.io/steps": steps,
                "canarist.io/traffic-router": "istio",
                "canarist.io/istio-virtual-service": "web",
            }
        )
    )
    assert list(sim.router.mirrors) == ["shadow"]
    assert sim.router.mirrors["shadow"].percentage == 35
    assert sim.status.mirror == "shadow"
    sim.annotate("promote")
    sim.run()
    assert sim.router.mirrors == {} and sim.router.weight == 10
    assert sim.status.mirror is None


def test_dynamic_stable_scale_moves_stable_pods_only_after_traffic() -> None:
    sim = Sim(
        {
            "canarist.io/steps": STEPS,
            "canarist.io/traffic-router": "proxy",
            "canarist.io/dynamic-stable-scale": "true",
        },
        replicas=10,
    )
    sim.run()
    sim.update_template("v2")
    sim.reconcile()
    assert sim.d_spec["replicas"] == 10
    sim.settle()
    shift = sim.reconcile()
    assert sim.router.weight == 20
    kinds = [type(op) for op in shift.ops]
    assert kinds.index(RouteTraffic) < kinds.index(PatchDeployment)  # traffic first
    assert [op.replicas for op in shift.of_type(PatchDeployment)] == [8]
    sim.settle()
    assert not sim.reconcile().ops
    assert sim.canary_replicas() == 2  # the canary is sized from the user's 10, not 8
    sim.annotate("abort")
    sim.reconcile()
    assert sim.d_spec["replicas"] == 10  # stable comes back at once...
    assert sim.router.weight == 20  # ...and traffic follows as its pods become available
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 0
    assert sim.violations == []


def test_dynamic_stable_scale_waits_for_a_verified_weight() -> None:
    """Argo #3926: stable pods went before the load balancer applied the weight."""
    sim = Sim(
        {
            "canarist.io/steps": STEPS,
            "canarist.io/traffic-router": "proxy",
            "canarist.io/dynamic-stable-scale": "true",
        },
        replicas=10,
    )
    sim.run()
    sim.router.verify_lag = 1
    sim.update_template("v2")
    sim.reconcile()
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 20
    assert sim.d_spec["replicas"] == 10  # written, not verified
    sim.reconcile()  # first check: not yet
    assert sim.d_spec["replicas"] == 10
    sim.reconcile()
    assert sim.d_spec["replicas"] == 8


def test_dynamic_stable_scale_promotion_restores_the_replica_count() -> None:
    sim = Sim(
        {
            "canarist.io/steps": "- setWeight: 50",
            "canarist.io/traffic-router": "proxy",
            "canarist.io/dynamic-stable-scale": "true",
        },
        replicas=4,
    )
    released(sim)
    assert sim.status.phase == Phase.HEALTHY
    assert sim.d_spec["replicas"] == 4
    assert sim.router.weight == 0


def test_a_verifying_router_holds_the_step_until_the_weight_shows() -> None:
    sim = proxy_sim()
    sim.run()
    sim.router.verify_lag = 2
    sim.update_template("v2")
    sim.reconcile()
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 20
    assert sim.status.step == 0  # written, not verified yet
    held = sim.reconcile()
    assert sim.status.step == 0 and held.requeue_after == 10.0
    sim.reconcile()
    sim.reconcile()
    assert sim.status.step == 1


def test_an_adopted_deployment_pins_its_old_pods_by_pod_template_hash() -> None:
    sim = Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy"}, adopted=True)
    sim.run()
    assert POD_TEMPLATE_HASH not in sim.selector("web")
    sim.update_template("v2")
    sim.reconcile()
    assert sim.selector("web") == {"app": "web", POD_TEMPLATE_HASH: "p1"}
    assert sim.selector("web-canary") == {"app": "web", HASH_LABEL: sim.hash()}
    sim.settle()
    sim.run()
    sim.advance(30)
    sim.run()
    sim.annotate("promote")
    sim.run()
    assert sim.selector("web") == {"app": "web", HASH_LABEL: sim.hash()}


def test_an_adopted_deployment_rolls_back_to_its_unstamped_pods() -> None:
    sim = Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy"}, adopted=True)
    released(sim)
    sim.revert("v1", adopted=True)
    sim.run()
    assert sim.selector("web-canary") == {"app": "web", POD_TEMPLATE_HASH: "p1"}
    assert sim.status.phase == Phase.HEALTHY


@pytest.mark.parametrize("action", ["promote", "promote-full", "abort", "retry", "pause", "resume"])
def test_actions_without_a_release_are_consumed_and_ignored(action: str) -> None:
    sim = proxy_sim()
    sim.run()
    sim.annotate(action)
    p = sim.reconcile()
    assert "canarist.io/action" not in sim.annotations
    assert p.of_type(WriteStatus)[0].consume_action
    assert sim.events[-1].reason == "ActionIgnored"
    assert sim.events[-1].type == "Warning"
    assert sim.canary is None


def test_pause_holds_the_release_until_resume() -> None:
    sim = released(proxy_sim())
    sim.annotate("pause")
    sim.reconcile()
    assert sim.status.phase == Phase.PAUSED
    assert sim.status.message.startswith("paused by user at step 2/4")
    sim.advance(300)
    assert not sim.reconcile().ops
    assert sim.status.step == 1
    sim.annotate("resume")
    sim.run()
    assert sim.status.step == 3 and sim.router.weight == 50


def test_retry_is_refused_unless_aborted_and_promote_is_refused_when_aborted() -> None:
    sim = released(proxy_sim())
    sim.annotate("retry")
    sim.reconcile()
    assert sim.events[-1].reason == "ActionIgnored"
    sim.annotate("abort")
    sim.reconcile()
    sim.annotate("promote")
    sim.reconcile()
    assert "aborted" in sim.events[-1].message
    assert sim.status.phase == Phase.DEGRADED


def test_a_foreign_canary_deployment_blocks_the_release() -> None:
    sim = proxy_sim()
    sim.run()
    sim.canary = {"metadata": {"name": "web-canary"}, "spec": {"replicas": 1, "template": {}}}
    sim.update_template("v2")
    p = sim.reconcile()
    assert not [op for op in p.ops if not isinstance(op, WriteStatus)]
    assert "not managed by canarist" in sim.status.message
    assert sim.events[-1].type == "Warning"


@pytest.mark.parametrize(
    ("services", "annotations", "problem"),
    [
        ((), {}, "no Service selects the pods"),
        (("web", "www"), {}, "several Services select the pods (web, www)"),
        (("web",), {"canarist.io/stable-service": "api"}, "stable Service 'api' not found"),
    ],
)
def test_a_release_without_a_clear_stable_service_waits(
    services: tuple[str, ...], annotations: dict[str, str], problem: str
) -> None:
    sim = Sim({"canarist.io/traffic-router": "proxy", **annotations}, services=services)
    sim.run()
    sim.update_template("v2")
    sim.reconcile()
    assert sim.canary is None
    assert problem in sim.status.message
    assert sim.status.phase == Phase.PROGRESSING


def test_a_hand_made_canary_service_is_adopted_and_restored() -> None:
    sim = Sim(
        {"canarist.io/traffic-router": "proxy", "canarist.io/steps": STEPS},
        services=("web", "web-canary"),
    )
    released(sim)
    assert sim.selector("web-canary") == {"app": "web", HASH_LABEL: sim.hash()}
    sim.opt_out()
    sim.reconcile()
    assert sim.selector("web-canary") == {"app": "web"}  # restored, not deleted


def test_a_canary_past_its_progress_deadline_aborts() -> None:
    sim = proxy_sim()
    sim.run()
    sim.update_template("v2")
    sim.canary_ready = False
    sim.reconcile()
    assert sim.canary is not None
    sim.canary["status"] = {
        "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ]
    }
    sim.reconcile()
    assert sim.status.phase == Phase.DEGRADED
    assert "progress deadline" in sim.status.message


def test_invalid_annotations_change_nothing_but_the_message() -> None:
    sim = proxy_sim()
    sim.run()
    sim.annotations["canarist.io/steps"] = "- setWeight: 150"
    p = sim.reconcile()
    assert [type(op) for op in p.ops] == [WriteStatus]
    assert "must be between 0 and 100" in sim.status.message
    assert not sim.reconcile().ops


def test_a_template_change_that_bypassed_admission_is_held() -> None:
    sim = proxy_sim()
    sim.run()
    sim.update_template("v2")
    sim.d_spec["paused"] = False
    p = sim.reconcile()
    assert [op.paused for op in p.of_type(PatchDeployment)] == [True]
    assert sim.paused()


def test_resync_reapplies_routing_that_drifted() -> None:
    sim = released(proxy_sim())
    sim.router.weight = 0  # someone edited the routing object
    assert not sim.reconcile().ops
    p = sim.reconcile(resync=True)
    assert p.of_type(RouteTraffic) and sim.router.weight == 20


def test_status_annotation_is_written_only_when_it_changes() -> None:
    sim = released(proxy_sim())
    writes = sim.status_writes
    for _ in range(3):
        sim.advance(1)
        sim.reconcile()
    assert sim.status_writes == writes
    assert STATUS in sim.annotations


def test_the_parsed_spec_is_reused_while_only_the_status_changes() -> None:
    from webhook.release.model import parsed_spec

    sim = released(proxy_sim())
    parsed_spec.cache_clear()
    for _ in range(3):
        sim.advance(5)
        sim.reconcile()
        sim.settle()
    info = parsed_spec.cache_info()
    assert info.misses == 1 and info.hits >= 2
