"""Adopted Deployments, user actions, what blocks a release, invalid annotations, resync and
status writes, on the release simulator."""

from __future__ import annotations

import pytest

from webhook.release.names import HASH_LABEL, POD_TEMPLATE_HASH
from webhook.release.ops import PatchDeployment, RouteTraffic, WriteStatus
from webhook.spec import Phase
from webhook.spec.names import STATUS

from .sim import Sim, released
from .test_release_flow import STEPS, proxy_sim


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
    from webhook.release.specs import SPECS

    sim = released(proxy_sim())
    SPECS.clear()
    for _ in range(3):
        sim.advance(5)
        sim.reconcile()
        sim.settle()
    assert SPECS.misses == 1 and SPECS.hits >= 2
