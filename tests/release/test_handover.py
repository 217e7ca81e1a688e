"""The hand-over at promotion on the simulator: what is written in which order, that no pod
is created, and that a reconciler stopped after any write, a new template, a scale, a
ReplicaSet deleted or the Deployment deleted at any point of it all end in the same place."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from webhook.release.names import HASH_LABEL
from webhook.release.ops import (
    DeleteCanary,
    DeleteReplicaSet,
    OrphanCanary,
    PatchDeployment,
    PatchServiceSelector,
    Plan,
    RouteTraffic,
)
from webhook.release.planner import plan as make_plan
from webhook.spec import Phase

from .handover_sim import PROXY, R, at_100, canary_rs
from .sim import Sim
from .sim_actors import UID

# --- the whole promotion ------------------------------------------------------------------------


def kinds(plan: Plan) -> list[str]:
    return [type(op).__name__ for op in plan.ops]


def end_state(sim: Sim) -> tuple[Any, ...]:
    status = sim.status
    live = sorted((rs["metadata"]["name"], rs["spec"]["replicas"]) for rs in sim.replica_sets
                  if rs["spec"]["replicas"])
    return (status.phase, status.stable_hash, status.weight, sim.paused(), sim.d_spec["replicas"],
            sim.canary, live, sim.selector("web"), sim.router.snapshot(),
            "handover" in status.extra)


def test_the_promotion_hands_the_replica_set_over_and_creates_no_pod() -> None:
    sim = at_100()
    v2, created = sim.hash(), sim.pods_created
    rs = canary_rs(sim)["metadata"]["name"]
    sim.annotate("promote")
    start = sim.reconcile()
    # the stable Service on the new pods, the booking, then the orphaning: in that order
    assert kinds(start) == ["PatchServiceSelector", "WriteStatus", "OrphanCanary"]
    assert start.ops[0] == PatchServiceSelector("web", {HASH_LABEL: v2})
    status = sim.status
    assert (status.phase, status.stable_hash, status.extra["handover"]) == (
        Phase.PROMOTING, v2, rs)
    assert sim.paused() and sim.router.weight == 100
    assert not sim.reconcile().ops  # nothing more until the garbage collector acts
    sim.settle()  # orphaned, adopted, found saturated: the old pods go, the Deployment paused
    assert canary_rs(sim)["metadata"]["ownerReferences"][0]["uid"] == UID
    assert sim.pods_of(sim.status.extra.get("release", "") or v2) == R
    unpause = sim.reconcile()
    assert kinds(unpause) == ["PatchDeployment"]
    write = unpause.of_type(PatchDeployment)[0]
    assert write.paused is False and write.replicas is None
    sim.settle()
    finish = sim.reconcile()
    route = finish.of_type(RouteTraffic)[0]
    assert (route.weight, route.canary_hash, route.stable_hash) == (0, v2, v2)
    assert route.weight_first is False  # the stable side moves to v2 before it gets traffic
    assert not finish.of_type(DeleteCanary)
    assert (sim.phase(), sim.paused(), sim.canary) == (Phase.HEALTHY, False, None)
    assert sim.pods_created == created
    assert [rs] == [r["metadata"]["name"] for r in sim.replica_sets if r["spec"]["replicas"]]
    assert "Promoted" in sim.reasons() and sim.violations == []
    assert not sim.run()[-1].ops


def test_the_old_pods_stay_scale_down_delay_after_the_stable_service_switched() -> None:
    """Argo's scaleDownDelaySeconds: what follows the stable Service catches up before the old
    pods go — and the adoption takes them, so the orphaning waits."""
    sim = at_100({**PROXY, "canarist.io/scale-down-delay": "30s"})
    v1, v2 = sim.status.stable_hash, sim.hash()
    sim.annotate("promote")
    first = sim.reconcile()
    assert kinds(first) == ["PatchServiceSelector", "WriteStatus"]
    assert first.requeue_after == 30.0
    assert sim.selector("web") == {"app": "web", HASH_LABEL: v2}
    assert sim.status.stable_hash == v1 and sim.paused()
    sim.settle()
    sim.advance(29)
    assert not sim.reconcile().ops
    sim.advance(1)
    assert kinds(sim.reconcile()) == ["WriteStatus", "OrphanCanary"]
    assert "scaleDownAt" not in sim.status.extra
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.status.stable_hash, sim.violations) == (Phase.HEALTHY, v2, [])


def reference() -> tuple[Any, ...]:
    sim = at_100()
    sim.annotate("promote")
    sim.run()
    return end_state(sim)


def test_a_reconciler_stopped_after_any_write_of_the_hand_over_ends_the_same() -> None:
    """Every prefix of every plan of the hand-over carried out, then a fresh run."""
    want = reference()
    sim = at_100()
    sim.annotate("promote")
    tried = 0
    while sim.status.phase != Phase.HEALTHY or "handover" in sim.status.extra:
        p = make_plan(sim.world(), sim.now)
        for k in range(len(p.ops) + 1):
            fork = copy.deepcopy(sim)
            for op in p.ops[:k]:
                fork.apply_op(op)
            fork.settle()
            fork.run(20)
            assert end_state(fork) == want, (k, p.ops)
            assert fork.violations == []
            tried += 1
        sim.apply(p)
        sim.settle()
    assert tried >= 6


@pytest.mark.parametrize("point", ["booked", "orphaned", "adopted", "unpaused"])
def test_a_new_template_at_each_point_is_released_over_the_handed_over_revision(
    point: str,
) -> None:
    sim = at_100()
    v2, rs = sim.hash(), canary_rs(sim)["metadata"]["name"]
    sim.annotate("promote")
    sim.reconcile()  # booked, the orphaning written
    if point in ("orphaned", "adopted", "unpaused"):
        sim._collect()  # the garbage collector only
    if point in ("adopted", "unpaused"):
        sim.settle()
    if point == "unpaused":
        sim.reconcile()
    sim.update_template("v3")
    v3 = sim.hash()
    assert sim.status.stable_hash == v2  # held over v2 by the admission webhook
    sim.settle()
    sim.run()
    status = sim.status
    assert (status.stable_hash, status.canary_hash, status.step) == (v2, v3, 1), status
    assert "handover" not in status.extra
    assert sim.pods_of(v2) >= R  # the tested pods are the stable ones now
    assert rs in [r["metadata"]["name"] for r in sim.replica_sets
                  if r["metadata"]["ownerReferences"][0]["uid"] == UID]
    sim.annotate("promote-full")
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.status.stable_hash, sim.paused()) == (Phase.HEALTHY, v3, False)
    assert sim.violations == []


def test_dynamic_stable_scale_gives_the_stable_pods_back_before_the_orphaning() -> None:
    """Orphaning with spec.replicas below R would let the paused Deployment scale the adopted
    ReplicaSet down to it (``scale``: one active ReplicaSet gets spec.replicas)."""
    annotations = {**PROXY, "canarist.io/dynamic-stable-scale": "true"}
    del annotations["canarist.io/scale-down-delay"]  # 0 with dynamic stable scale
    sim = at_100(annotations)
    assert sim.d_spec["replicas"] == 0  # all traffic on the canary: no stable pod left
    sim.annotate("promote")
    first = sim.reconcile()
    assert not first.of_type(OrphanCanary)
    assert first.of_type(PatchDeployment)[0].replicas == R
    assert sim.status.message == "promoting: waiting for web back to 4 replicas first"
    sim.settle()
    second = sim.reconcile()
    assert second.of_type(OrphanCanary)
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.d_spec["replicas"], sim.violations) == (Phase.HEALTHY, R, [])
    assert sim.pods_of(sim.hash()) == R


def test_set_canary_scale_below_r_at_the_last_step_scales_the_canary_to_r_first() -> None:
    steps = "- setCanaryScale: {replicas: 2}\n- setWeight: 100\n- pause: {}\n"
    sim = at_100({**PROXY, "canarist.io/steps": steps})
    assert sim.canary_replicas() == 2
    sim.canary_limit = 2  # the two new pods are slow
    sim.annotate("promote")
    sim.reconcile()
    assert sim.canary_replicas() == R
    for _ in range(3):
        sim.settle()
        assert not sim.reconcile().of_type(OrphanCanary)
    sim.canary_limit = None
    sim.settle()
    assert sim.reconcile().of_type(OrphanCanary)
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.pods_of(sim.hash()), sim.violations) == (Phase.HEALTHY, R, [])


def test_a_scale_during_the_hand_over_is_the_deployments() -> None:
    sim = at_100()
    sim.annotate("promote")
    sim.reconcile()
    sim.set_replicas(6)  # an HPA
    sim.settle()
    sim.run()
    assert (sim.phase(), sim.d_spec["replicas"], sim.pods_of(sim.hash())) == (
        Phase.HEALTHY, 6, 6)
    assert sim.violations == []


def test_a_replica_set_deleted_before_the_adoption_falls_back_to_a_rollout() -> None:
    sim = at_100()
    sim.annotate("promote")
    sim.reconcile()
    sim._collect()
    sim.replica_sets.remove(canary_rs(sim))  # someone deleted the orphan
    p = sim.reconcile()
    assert p.of_type(PatchDeployment)[0].paused is False
    assert [e.reason for e in p.events if e.type.value == "Warning"] == ["HandOverFailed"]
    sim.settle()
    sim.run()
    assert sim.phase() == Phase.HEALTHY and not sim.paused()


def test_the_deployment_deleted_mid_hand_over_takes_the_orphan_with_it() -> None:
    sim = at_100()
    sim.annotate("promote")
    sim.reconcile()
    sim.delete()  # a Deployment being deleted adopts nothing
    sim.settle()
    rs = canary_rs(sim)
    assert rs["metadata"]["ownerReferences"] == []
    p = sim.reconcile()
    assert p.of_type(DeleteReplicaSet) == [DeleteReplicaSet(rs["metadata"]["name"],
                                                            rs["metadata"]["uid"])]


def test_opting_out_mid_hand_over_never_deletes_the_orphaned_canary_again() -> None:
    sim = at_100()
    sim.annotate("promote")
    sim.reconcile()
    sim.opt_out()
    p = sim.reconcile()
    assert not p.of_type(DeleteCanary)
    sim.settle()
    assert canary_rs(sim)["metadata"]["ownerReferences"][0]["uid"] == UID


def test_a_fallback_unpauses_with_the_reason_and_switches_the_stable_service_first() -> None:
    sim = at_100()
    sim.handover = False
    sim.annotate("promote")
    p = sim.reconcile()
    assert kinds(p)[:2] == ["PatchServiceSelector", "PatchDeployment"]
    assert p.of_type(PatchDeployment)[0].paused is False
    [event] = [e for e in p.events if e.reason == "Promoting"]
    assert "not handed over: the hand-over is turned off" in event.message
    assert not [e for e in p.events if e.type.value == "Warning"]
    sim.settle()
    sim.run()
    assert sim.phase() == Phase.HEALTHY
    sim.advance(30)  # scale-down-delay
    sim.run()
    assert sim.canary is None
    assert [r["metadata"]["name"] for r in sim.replica_sets if r["spec"]["replicas"]] == [
        "web-p3"]  # the rollout's: the canary's pods went with it


