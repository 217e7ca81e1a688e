"""Router none, sticky canary scale, header and mirror routes, dynamic stable scale and weight
verification, on the release simulator."""

from __future__ import annotations

from webhook.release.names import HASH_LABEL
from webhook.release.ops import PatchDeployment, RouteTraffic
from webhook.spec import Phase

from .sim import Sim, released
from .test_release_endings import HEADER_STEPS
from .test_release_flow import STEPS, proxy_sim


def test_router_none_splits_by_pod_count_and_never_pins_the_users_service() -> None:
    """Argo's basic canary: the split of R (or R + 1 with surge) pods nearest the weight."""
    sim = released(Sim({"canarist.io/steps": STEPS}, replicas=4))
    assert sim.selector("web") == {"app": "web"}
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (1, 4)  # 1 of 5 pods: 20%
    status = sim.status
    assert (status.phase, status.step, status.weight) == (Phase.PAUSED, 1, 20)
    assert sim.router.writes == 0
    sim.advance(30)
    sim.run()
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (2, 2)  # 2 of 4 pods: 50%
    assert sim.status.weight == 50
    sim.set_replicas(6)  # an HPA resizes the Deployment: the new total
    sim.settle()
    sim.run()
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (3, 3)
    sim.annotate("promote")
    sim.reconcile()
    assert not sim.paused()  # no weight 100 with router none: the Deployment rolls out
    assert sim.phase() == Phase.PROMOTING
    assert sim.d_spec["replicas"] == 3  # its 3 pods first; the canary's 3 move over after
    sim.settle()
    sim.run()
    assert sim.phase() == Phase.HEALTHY
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (0, 6)
    assert sim.selector("web") == {"app": "web"}
    assert sim.selector("web-canary")[HASH_LABEL] == sim.hash()
    sim.advance(30)
    sim.run()
    assert sim.canary is None


def test_router_none_abort_gives_the_stable_pods_back_first() -> None:
    sim = released(Sim({"canarist.io/steps": STEPS}))
    sim.advance(30)
    sim.run()
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (2, 2)
    sim.annotate("abort")
    first = sim.reconcile()
    assert sim.status.phase == Phase.DEGRADED and sim.status.weight == 0
    # the stable side back to 4 (within R + maxSurge = 5 pods asked for), and as much of the
    # canary gone as keeps R - maxUnavailable = 3 of the pods available now: what shrinks is
    # written before what grows, so the pods asked for never add up to more than 5
    kinds = [type(op).__name__ for op in first.ops]
    assert kinds.index("ScaleCanary") < kinds.index("PatchDeployment")
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (1, 4)
    sim.settle()
    sim.run()
    assert (sim.canary_replicas(), sim.d_spec["replicas"]) == (0, 4)
    assert sim.status.extra.get("replicas") is None  # nothing left to give back


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
    assert list(sim.router.headers) == ["beta"]  # weight 100; the old pods stay 30 s
    sim.advance(30)
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


def dynamic_stable_sim(steps: str, *, replicas: int) -> Sim:
    """Router proxy with ``canarist.io/dynamic-stable-scale``."""
    return Sim(
        {
            "canarist.io/steps": steps,
            "canarist.io/traffic-router": "proxy",
            "canarist.io/dynamic-stable-scale": "true",
        },
        replicas=replicas,
    )


def test_dynamic_stable_scale_moves_stable_pods_only_after_traffic() -> None:
    sim = dynamic_stable_sim(STEPS, replicas=10)
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
    sim = dynamic_stable_sim(STEPS, replicas=10)
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
    sim = dynamic_stable_sim("- setWeight: 50", replicas=4)
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
