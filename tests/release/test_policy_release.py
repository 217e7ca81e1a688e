"""Releases under cluster policies, on the release simulator: adoption, opt-out, the policy's
defaults, promote-full refused by a rule, a bypass recorded as an Event, and releases waiting for
a slot of maxConcurrentReleases (the slot counting itself: ``queueing.slots``)."""

from __future__ import annotations

import json

import pytest

from tests.policy.helpers import one
from webhook.policy import BypassRecord
from webhook.release import queueing
from webhook.release.model import Slots
from webhook.release.ops import CreateCanary, PatchDeployment, Plan
from webhook.release.planner import plan
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import BYPASS, ENABLED_LABEL, STATUS

from .sim import Sim

STEPS = "- setWeight: 20\n- pause: {duration: 1m}\n- setWeight: 40\n- pause: {}"
ADOPT = one(namespaces=["shop"], adopt=True,
            defaults={"steps": STEPS, "traffic-router": "proxy"},
            rules={"allowPromoteFull": False, "maxConcurrentReleases": 1})


def adopted(policy=ADOPT, label: str | None = None) -> Sim:
    sim = Sim({}, adopted=True)
    sim.policy = policy
    labels = sim.deployment["metadata"]["labels"]
    labels.pop(ENABLED_LABEL)
    if label is not None:
        labels[ENABLED_LABEL] = label
    return sim


def test_a_policy_adopts_a_deployment_without_label_with_its_steps_and_router() -> None:
    sim = adopted()
    sim.run()
    assert sim.status.phase == Phase.HEALTHY
    assert sim.status.extra["policy"] == "team-a"
    assert sim.router.weight == 0  # proxy: routing set up at rest
    sim.update_template("v2")
    sim.run()
    assert sim.status.steps == 4 and sim.router.weight == 20
    assert sim.canary is not None and sim.paused()


def test_without_a_policy_an_unlabelled_deployment_is_left_alone() -> None:
    sim = adopted(policy=None)
    assert not sim.reconcile().ops
    passive = adopted(policy=one(namespaces=["shop"], defaults={"traffic-router": "proxy"}))
    assert not passive.reconcile().ops  # the policy does not adopt


def test_the_opt_out_label_undoes_the_adoption_unless_the_policy_enforces() -> None:
    sim = adopted()
    sim.run()
    sim.deployment["metadata"]["labels"][ENABLED_LABEL] = "false"
    sim.run()
    assert STATUS not in sim.annotations
    assert sim.events[-1].reason == "OptedOut"
    assert sim.events[-1].message.startswith('opted out (label canarist.io/enabled: "false")')
    enforced = adopted(one(namespaces=["shop"], adopt=True, enforce=True), label="false")
    enforced.run()
    assert enforced.status.phase == Phase.HEALTHY  # managed all the same


def test_promote_full_is_refused_by_the_rule_in_the_clis_words() -> None:
    sim = adopted(one(namespaces=["shop"], adopt=True, defaults={"traffic-router": "proxy",
                                                                "steps": STEPS},
                      rules={"allowPromoteFull": False}))
    sim.run()
    sim.update_template("v2")
    sim.run()
    sim.annotate("promote-full")
    sim.reconcile()
    assert "canarist.io/action" not in sim.annotations
    event = sim.events[-1]
    assert (event.reason, event.type) == ("ActionIgnored", "Warning")
    assert event.message == (
        "promote-full ignored: promote-full is not allowed: policy team-a forbids skipping the "
        "remaining steps (rules.allowPromoteFull: false)")
    assert sim.status.step == 1
    # an exempt user's bypass of the rule, recorded by the webhook, lets it through
    record = BypassRecord("uid-1", "alice", ("platform-admins",), "team-a",
                          ("rules.allowPromoteFull",), "promote-full")
    sim.annotations[BYPASS] = record.to_json()
    sim.annotate("promote-full")
    sim.reconcile()
    assert "PromoteFull" in sim.reasons()


def test_a_bypass_becomes_one_warning_event() -> None:
    sim = adopted()
    sim.run()
    record = BypassRecord("uid-7", "alice", ("platform-admins",), "team-a",
                          ("rules.maxWeightIncrease",), "canarist.io/steps[0].setWeight: raises")
    sim.annotations[BYPASS] = record.to_json()
    sim.run()
    bypassed = [e for e in sim.events if e.reason == "PolicyBypassed"]
    assert len(bypassed) == 1 and bypassed[0].type == "Warning"
    assert bypassed[0].message.startswith("alice (groups platform-admins), exempt from policy "
                                          "team-a, bypassed it: canarist.io/steps[0]")
    assert sim.status.extra["bypassRecorded"] == "uid-7"
    sim.update_template("v2")
    sim.run()
    assert len([e for e in sim.events if e.reason == "PolicyBypassed"]) == 1


def test_a_release_waits_for_a_slot_then_starts() -> None:
    sim = adopted()
    sim.run()
    sim.slots = Slots(1, ("shop/api",))
    sim.update_template("v2")
    p = sim.reconcile()
    assert sim.canary is None and sim.paused()
    assert sim.status.phase == Phase.PROGRESSING
    assert sim.status.message == ("waiting to start: policy team-a allows 1 release at once "
                                  "(rules.maxConcurrentReleases); running: shop/api")
    assert sim.status.extra["queuedAt"] and "release" not in sim.status.extra
    assert [e.reason for e in p.events] == ["Queued"]
    assert p.requeue_after == queueing.RETRY
    queued = sim.status.extra["queuedAt"]
    sim.advance(60)
    p = sim.reconcile()
    assert sim.status.extra["queuedAt"] == queued and not p.events  # no second Queued
    sim.slots = Slots(1, ())
    p = sim.reconcile()
    assert "ReleaseStarted" in [e.reason for e in p.events]
    assert p.of_type(CreateCanary) and "queuedAt" not in sim.status.extra
    sim.settle()
    sim.run()
    assert sim.router.weight == 20


def test_a_start_whose_status_write_was_lost_goes_on_rather_than_wait() -> None:
    sim = adopted()
    sim.run()
    sim.update_template("v2")
    sim.apply(plan_without_status(sim))  # the canary is created, the status write is lost
    assert sim.canary is not None and "release" not in sim.status.extra
    sim.slots = Slots(1, ("shop/api",))
    p = sim.reconcile()
    assert "ReleaseStarted" in [e.reason for e in p.events]
    assert "queuedAt" not in sim.status.extra and sim.status.extra["release"] == sim.hash()


def plan_without_status(sim: Sim) -> Plan:
    from webhook.release.ops import WriteStatus

    p = plan(sim.world(), sim.now)
    ops = tuple(op for op in p.ops if not isinstance(op, WriteStatus | PatchDeployment))
    return Plan(ops, p.events, p.requeue_after)


def test_a_release_not_held_at_admission_is_paused_while_it_waits() -> None:
    sim = adopted()
    sim.run()
    sim.slots = Slots(1, ("shop/api",))
    sim.update_template("v2")
    sim.d_spec["paused"] = False
    p = sim.reconcile()
    assert any(isinstance(op, PatchDeployment) and op.paused for op in p.ops)
    assert sim.paused()


def _deployment(name: str, status: ReleaseStatus | None) -> dict[str, object]:
    ann = {STATUS: status.to_json()} if status is not None else {}
    return {"metadata": {"namespace": "ns", "name": name, "annotations": ann}}


RUNNING = ReleaseStatus(stable_hash="a", canary_hash="b", extra={"release": "b"})
ABORTED = RUNNING.with_(aborted_at="2026-03-01T12:00:00Z")
QUEUED_EARLY = ReleaseStatus(stable_hash="a", canary_hash="b",
                             extra={"queuedAt": "2026-03-01T12:00:00Z"})
QUEUED_LATE = ReleaseStatus(stable_hash="a", canary_hash="b",
                            extra={"queuedAt": "2026-03-01T12:05:00Z"})
AT_REST = ReleaseStatus(stable_hash="a", canary_hash="a")


@pytest.mark.parametrize(("peers", "reserved", "since", "running", "ahead", "free"), [
    ([], [], None, (), 0, True),
    ([("r1", RUNNING)], [], None, ("ns/r1",), 0, True),
    ([("r1", RUNNING), ("r2", RUNNING)], [], None, ("ns/r1", "ns/r2"), 0, False),
    ([("r1", RUNNING), ("x", ABORTED), ("y", AT_REST), ("z", None)], [], None,
     ("ns/r1",), 0, True),
    # started here, not in the cache yet
    ([("r1", RUNNING)], ["ns/r3"], None, ("ns/r1", "ns/r3"), 0, False),
    # queued earlier than me: ahead; later: not
    ([("r1", RUNNING), ("q1", QUEUED_EARLY)], [], "2026-03-01T12:01:00Z", ("ns/r1",), 1, False),
    ([("r1", RUNNING), ("q2", QUEUED_LATE)], [], "2026-03-01T12:01:00Z", ("ns/r1",), 0, True),
    # not queued yet: everyone queued is ahead
    ([("q2", QUEUED_LATE)], [], None, (), 1, True),
    # myself never counts
    ([("me", RUNNING)], ["ns/me"], None, (), 0, True),
])
def test_slots(peers, reserved, since, running, ahead, free) -> None:
    policy = one(rules={"maxConcurrentReleases": 2})
    found = queueing.slots("ns/me", policy, [_deployment(n, s) for n, s in peers], reserved,
                           since)
    assert (found.limit, found.running, found.ahead, found.free) == (2, running, ahead, free)


def test_holding_a_slot_reads_the_status_leniently() -> None:
    assert queueing.holds_slot(_deployment("a", RUNNING))
    assert not queueing.holds_slot(_deployment("a", ABORTED))
    assert not queueing.holds_slot({"metadata": {"annotations": {STATUS: "{"}}})
    assert not queueing.holds_slot(None)
    assert json.loads(RUNNING.to_json())["release"] == "b"
