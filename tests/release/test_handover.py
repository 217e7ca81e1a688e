"""The hand-over at promotion: ``handover.check`` in a table (one row per condition), then the
whole promotion on the simulator — what is written in which order, that no pod is created, and
that a reconciler stopped after any write, a new template, a scale, a ReplicaSet deleted or the
Deployment deleted at any point of it all end in the same place."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from webhook.release import handover
from webhook.release.bookkeeping import Books
from webhook.release.draft import Ctx, Work
from webhook.release.model import selecting
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
from webhook.release.replicas import user_total
from webhook.spec import Phase

from .sim import Sim
from .sim_actors import JSON, UID

STEPS = "- setWeight: 50\n- pause: {}\n- setWeight: 100\n- pause: {}\n"
PROXY = {"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy",
         "canarist.io/scale-down-delay": "0s"}
R = 4


def at_100(annotations: dict[str, str] | None = None, *, replicas: int = R) -> Sim:
    """v2 at its last step: all traffic on the canary's R pods, waiting for promote."""
    sim = Sim(annotations or PROXY, replicas=replicas)
    sim.run()
    sim.update_template("v2")
    sim.run()
    while sim.status.step < sim.status.steps - 1:  # on to the last step, a pause
        sim.annotate("promote")
        sim.run()
    status = sim.status
    assert (status.phase, status.weight, sim.router.weight) == (Phase.PAUSED, 100, 100), status
    return sim


def canary_rs(sim: Sim) -> JSON:
    return next(rs for rs in sim.replica_sets if rs["metadata"]["name"].startswith("web-canary"))


def verdict(sim: Sim, **world: Any) -> handover.Check:
    w = sim.world()
    w = type(w)(**{**w.__dict__, **world})
    work = Work(w.status, Books.of(w.status))
    work.total = user_total(w.deployment.replicas, work.books).replicas
    assert w.spec is not None
    return handover.check(Ctx(w, w.spec, sim.now), work)


def other_deployment(selector: dict[str, Any]) -> JSON:
    return {"metadata": {"name": "other"}, "spec": {"selector": selector}}


def _set_canary_label(sim: Sim) -> None:
    assert sim.canary is not None
    sim.canary["spec"]["template"]["metadata"]["labels"]["extra"] = "x"


def _rs(change: Callable[[JSON], None]) -> Callable[[Sim], None]:
    return lambda sim: change(canary_rs(sim))


def _second_rs(sim: Sim) -> None:
    twin = copy.deepcopy(canary_rs(sim))
    twin["metadata"].update(name="web-canary-twin", uid="uid-twin")
    sim.replica_sets.append(twin)


def _own_rs_of_this_template(sim: Sim) -> None:
    twin = copy.deepcopy(canary_rs(sim))
    twin["metadata"].update(name="web-old-v2", uid="uid-old-v2", ownerReferences=[
        {"uid": UID, "kind": "Deployment", "controller": True}])
    twin["spec"]["replicas"] = 0
    sim.replica_sets.insert(0, twin)


def _drop_canary_rs(sim: Sim) -> None:
    sim.replica_sets.remove(canary_rs(sim))


def _lower_replicas(sim: Sim) -> None:
    sim.d_spec["replicas"] = 3
    sim.annotations["canarist.io/status"] = sim.status.with_(
        extra={**sim.status.extra, "replicas": 4, "stableReplicas": 3}).to_json()


def _unobserved(sim: Sim) -> None:
    sim.deployment["metadata"]["generation"] += 1


# (what is changed in the world at weight 100, extra World fields, the verdict wanted)
ROWS: list[tuple[str, Callable[[Sim], None] | None, dict[str, Any], str, str]] = [
    ("all conditions hold", None, {}, "go", ""),
    ("turned off", None, {"handover": False}, "fallback", "turned off"),
    ("canary template differs", _set_canary_label, {}, "fallback!", "pod template of web-canary"),
    ("RS template differs", _rs(lambda rs: rs["spec"]["template"]["spec"].update(x=1)), {},
     "fallback!", "does not run web's pod template"),
    ("RS labels off the selector", _rs(lambda rs: rs["metadata"]["labels"].update(app="x")),
     {}, "fallback!", "selector does not match"),
    ("RS being deleted", _rs(lambda rs: rs["metadata"].update(deletionTimestamp="t")), {},
     "fallback!", "is being deleted"),
    ("two canary RSs", _second_rs, {}, "fallback!", "several ReplicaSets"),
    ("the Deployment has an RS of this template", _own_rs_of_this_template, {}, "fallback!",
     "already has ReplicaSet web-old-v2"),
    ("another Deployment selects the pods", None, {"selecting": ("other",)}, "fallback!",
     "Deployment other also selects"),
    ("no canary RS yet", _drop_canary_rs, {}, "wait", "the ReplicaSet of web-canary"),
    ("spec.replicas below R", _lower_replicas, {}, "wait", "web back to 4 replicas"),
    ("spec not observed", _unobserved, {}, "wait", "web back to 4 replicas"),
    ("RS not saturated", _rs(lambda rs: rs["status"].update(availableReplicas=3)), {}, "wait",
     "at 4 available pods (3/4)"),
    ("RS annotation behind", _rs(lambda rs: rs["metadata"]["annotations"].update(
        {"deployment.kubernetes.io/desired-replicas": "2"})), {}, "wait", "at 4 available"),
]


@pytest.mark.parametrize(("change", "world", "kind", "reason"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_check(change: Callable[[Sim], None] | None, world: dict[str, Any], kind: str,
               reason: str) -> None:
    sim = at_100()
    if change is not None:
        change(sim)
    found = verdict(sim, **world)
    got = "go" if found.go else "wait" if found.wait else "fallback!" if found.warn else "fallback"
    assert got == kind, found
    assert reason in found.reason


def test_check_router_none_and_zero_replicas_roll_out_without_warning() -> None:
    sim = at_100()
    spec = sim.world().spec
    assert spec is not None
    none = verdict(sim, spec=dataclasses.replace(spec, routers=("none",)))
    assert (none.go, none.wait, none.warn) == (False, False, False)
    assert "router none" in none.reason
    sim.d_spec["replicas"] = 0
    zero = verdict(sim)
    assert (zero.go, zero.wait, zero.warn, zero.reason) == (
        False, False, False, "the Deployment runs no pods")


def test_other_deployments_selecting_the_pods_are_found_by_their_selector() -> None:
    sim = at_100()
    world = sim.world()
    others = [other_deployment({"matchLabels": {"app": "web"}}),
              other_deployment({"matchExpressions": [{"key": "app", "operator": "In",
                                                       "values": ["web", "x"]}]}),
              other_deployment({"matchLabels": {"app": "api"}}),
              other_deployment({}),  # selects everything, so no controller acts on it
              {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}},
              {"metadata": {"name": "gone", "deletionTimestamp": "t"},
               "spec": {"selector": {"matchLabels": {"app": "web"}}}}]
    for i, d in enumerate(others[:4]):
        d["metadata"]["name"] = f"other{i}"
    assert selecting(world, others) == ("other0", "other1")


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


@pytest.mark.parametrize(("flags", "handover"), [([], True), (["--promotion", "handover"], True),
                                                (["--promotion", "rollout"], False)])
def test_canarist_reconcile_promotion_flag(flags: list[str], handover: bool) -> None:
    from webhook.cli import build_parser
    from webhook.cli.release import loop_options

    args = build_parser().parse_args(["reconcile", *flags])
    assert loop_options(args).handover is handover


def test_canarist_reconcile_refuses_an_unknown_promotion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from webhook.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["reconcile", "--promotion", "both"])
    assert exited.value.code == 2
    assert "--promotion: invalid choice: 'both'" in capsys.readouterr().err


def test_the_canary_runs_exactly_the_template_the_webhook_stamped() -> None:
    """The hand-over needs the canary's template to be the Deployment's: canarist adds only
    ``rollouts-pod-template-hash``, which the admission webhook already stamped into the
    Deployment's template. canarist's own labels are on the canary *Deployment*, not its pods."""
    from webhook.release.canary import canary_body

    sim = at_100()
    d = sim.world().deployment
    body = canary_body(d, R)
    assert body["spec"]["template"] == d.template
    assert body["metadata"]["labels"] == {"app": "web", "canarist.io/canary-of": "web"}
    unstamped = copy.deepcopy(dict(d.template))
    del unstamped["metadata"]["labels"][HASH_LABEL]  # a template changed behind the webhook
    assert not handover.same_template(body["spec"]["template"], unstamped)
    pth = copy.deepcopy(body["spec"]["template"])
    pth["metadata"]["labels"]["pod-template-hash"] = "abc"  # what its ReplicaSet adds
    assert handover.same_template(pth, d.template)
