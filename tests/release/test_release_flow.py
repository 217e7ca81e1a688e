"""A whole release through the planner, asserting the objects at every step."""

from __future__ import annotations

from webhook.release.names import HASH_LABEL, MANAGED_BY_ANNOTATION, ORIGINAL_SELECTOR
from webhook.release.ops import CreateCanary, DeleteCanary, PatchDeployment, RouteTraffic
from webhook.spec import Phase

from .sim import Sim

STEPS = """
- setWeight: 20
- pause: {duration: 30s}
- setWeight: 50
- pause: {}
"""


def proxy_sim(**kw: object) -> Sim:
    return Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "proxy"}, **kw)  # type: ignore[arg-type]


def test_adopting_a_deployment_records_its_revision_and_touches_nothing_else() -> None:
    sim = Sim({"canarist.io/steps": STEPS, "canarist.io/traffic-router": "smi"})
    v1 = sim.hash()
    before = sim.selector("web")
    sim.run()
    status = sim.status
    assert (status.phase, status.stable_hash, status.canary_hash) == (Phase.HEALTHY, v1, v1)
    assert sim.selector("web") == before
    assert sim.canary is None
    assert "web-canary" not in sim.services
    assert sim.router.writes == 0


def test_adopting_a_deployment_behind_canarists_proxy_sets_up_its_route() -> None:
    """The proxy serves nothing without a route: its route table (canarist's own object) is
    written at adoption, all traffic to stable; the user's objects stay untouched."""
    sim = proxy_sim()
    v1 = sim.hash()
    sim.run()
    assert (sim.router.weight, sim.router.canary_hash, sim.router.stable_hash) == (0, v1, v1)
    assert sim.router.writes == 1
    assert sim.selector("web") == {"app": "web"}
    assert sim.canary is None


def test_release_steps_then_promotion() -> None:
    sim = proxy_sim()
    sim.run()
    v1 = sim.hash()
    sim.update_template("v2")
    v2 = sim.hash()

    # step 1: the stable Service is pinned, the canary Service made, the canary scaled first
    first = sim.reconcile()
    assert sim.selector("web") == {"app": "web", HASH_LABEL: v1}
    assert sim.services["web"]["metadata"]["annotations"][MANAGED_BY_ANNOTATION] == "web"
    assert sim.services["web"]["metadata"]["annotations"][ORIGINAL_SELECTOR] == '{"app": "web"}'
    canary_svc = sim.services["web-canary"]
    assert canary_svc["spec"]["selector"] == {"app": "web", HASH_LABEL: v2}
    assert canary_svc["spec"]["type"] == "NodePort"  # as the stable one, with its own ports
    assert "clusterIP" not in canary_svc["spec"]
    assert canary_svc["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]
    assert canary_svc["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    assert sim.canary_replicas() == 1  # ceil(4 * 20%)
    assert sim.router.weight == 0  # no pod available yet: no traffic
    assert (sim.router.canary_hash, sim.router.stable_hash) == (v2, v1)
    assert sim.status.message == "step 1/4: setWeight 20: scaling the canary"
    assert first.of_type(CreateCanary)

    # the canary pod is available: traffic moves, the pause starts
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 20
    status = sim.status
    assert (status.phase, status.step, status.weight) == (Phase.PAUSED, 1, 20)
    assert status.step_started_at == "2026-03-01T12:00:00Z"

    sim.advance(29)
    waiting = sim.reconcile()
    assert not waiting.ops
    assert waiting.requeue_after == 1.0

    # the pause ends: scale to 2 before any traffic moves
    sim.advance(1)
    sim.reconcile()
    assert sim.canary_replicas() == 2
    assert sim.router.weight == 20
    sim.settle()
    sim.reconcile()
    assert sim.router.weight == 50
    assert sim.status.phase == Phase.PAUSED
    assert sim.status.message == "step 4/4: pause: waiting for promote"

    # an indefinite pause waits for promote, however long
    sim.advance(3600)
    assert not sim.reconcile().ops

    sim.annotate("promote")
    sim.reconcile()
    assert "canarist.io/action" not in sim.annotations
    assert sim.canary_replicas() == 4
    assert sim.router.weight == 50  # not all canary pods are available yet
    assert sim.paused()

    sim.handover = False  # the rollout path (handover: tests/release/test_handover.py)
    sim.settle()
    unpause = sim.reconcile()
    assert sim.router.weight == 100
    # the stable Service selects the new pods from the unpause on: none of the old pods the
    # rollout removes is selected by any Service
    assert sim.selector("web") == {"app": "web", HASH_LABEL: v2}
    writes = unpause.of_type(PatchDeployment)
    assert len(writes) == 1 and writes[0].paused is False
    assert writes[0].status is not None and writes[0].status.phase == Phase.PROMOTING
    assert not sim.paused()

    # the Deployment rolls out v2; then the stable Service switches and the weight returns to 0
    sim.settle()
    sim.reconcile()
    assert sim.selector("web") == {"app": "web", HASH_LABEL: v2}
    assert sim.router.weight == 0
    assert (sim.router.canary_hash, sim.router.stable_hash) == (v2, v2)
    status = sim.status
    assert (status.phase, status.stable_hash, status.canary_hash) == (Phase.HEALTHY, v2, v2)
    assert sim.canary_replicas() == 4  # kept for scale-down-delay

    sim.advance(29)
    assert not sim.reconcile().of_type(DeleteCanary)
    sim.advance(1)
    assert sim.reconcile().of_type(DeleteCanary)
    assert sim.canary_replicas() is None
    assert not sim.reconcile().ops
    text = " ".join(e.message for e in sim.events)
    assert text.count("completed (") == 3
    assert text.count("skipped by promote") == 1  # the indefinite pause
    assert "Promoted" in sim.reasons()
    assert "now selects" in text  # the stable Service switched
    assert sim.violations == []


def test_weight_change_costs_one_router_write_and_one_status_write() -> None:
    sim = proxy_sim()
    sim.run()
    sim.update_template("v2")
    sim.run()
    sim.advance(30)
    sim.reconcile()  # pause over: scale to 2
    sim.settle()
    writes, status_writes = sim.router.writes, sim.status_writes
    shift = sim.reconcile()
    assert [type(op) for op in shift.ops].count(RouteTraffic) == 1
    assert sim.router.writes - writes == 1
    assert sim.status_writes - status_writes == 1


def test_a_restarted_reconciler_resumes_the_pause_with_the_remaining_time() -> None:
    sim = proxy_sim()
    sim.run()
    sim.update_template("v2")
    sim.run()
    assert sim.status.weight == 20
    sim.advance(12)
    # a fresh planner sees only the cluster: nothing to write, wake up in 18 s, same weight
    again = sim.reconcile()
    assert not again.ops
    assert again.requeue_after == 18.0
    assert sim.router.weight == 20


def test_one_event_per_plan_so_a_weight_change_costs_three_writes() -> None:
    """Events are API writes: the Normal ones of a plan are merged, Warnings stay apart."""
    from webhook.release.draft import merge_events
    from webhook.release.ops import Event, EventType

    events = [
        Event("StepCompleted", "step 2/4 completed (pause 30s)"),
        Event("WeightChanged", "traffic weight updated from 20 to 50"),
        Event("AnalysisSkipped", "not run", EventType.WARNING),
        Event("StepCompleted", "step 3/4 completed (setWeight 50)"),
    ]
    merged = merge_events(events)
    assert [e.reason for e in merged] == ["WeightChanged", "AnalysisSkipped"]
    assert merged[0].message == (
        "step 2/4 completed (pause 30s); traffic weight updated from 20 to 50; "
        "step 3/4 completed (setWeight 50)"
    )
    sim = proxy_sim()
    sim.run()
    sim.update_template("v2")
    sim.run()
    sim.advance(30)
    sim.reconcile()  # scale to 2
    sim.settle()
    shift = sim.reconcile()
    assert [e.reason for e in shift.events] == ["WeightChanged"]
    assert sim.router.weight == 50
