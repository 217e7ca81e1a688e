"""The Deployment controller's sync, planned without an API (pkg/controller/deployment):
conditions and deadlines, ownership and name collisions, on ``deployment_world.World``.
"""

from __future__ import annotations

from dataclasses import replace

from tests.cluster.deployment_world import T0, World, cond, deployment, rolled_out, template
from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import Condition, ReplicaSet
from webhook.cluster.controllers.deployment.plan import (
    AdoptReplicaSet,
    CreateReplicaSet,
    Plan,
    ReleaseReplicaSet,
)
from webhook.cluster.controllers.deployment.sync import (
    after_create_conflict,
    after_create_error,
    plan_sync,
)
from webhook.cluster.controllers.objects import format_time

# --- conditions and deadlines ------------------------------------------------------------------


def test_progress_deadline_exceeded_after_the_deadline_and_requeue_before_it():
    w = rolled_out(progress_deadline_seconds=60)
    w.change_template("demo:bad")
    w.sync()
    plan = Plan()
    for _ in range(3):     # new pods never become ready: no progress after their creation
        w.settle(ready=False)
        w.now += 1
        plan = w.sync()
    assert w.condition(util.PROGRESSING) == ("True", util.RS_UPDATED_REASON)
    assert plan.status is None
    assert plan.requeue_after is not None and 55 < plan.requeue_after <= 60
    w.now += 61
    w.sync()
    assert w.condition(util.PROGRESSING) == ("False", util.TIMED_OUT_REASON)
    msg = cond(w.d.status, util.PROGRESSING).message
    assert msg == f'ReplicaSet "{w.new_rs().name}" has timed out progressing.'
    w.now += 1
    assert w.sync().requeue_after is None  # timed out is sticky: no more deadline checks


def test_available_condition_false_below_minimum_availability():
    w = rolled_out(replicas=4, max_unavailable=1, max_surge=1)
    for name, rs in w.rss.items():
        w.rss[name] = replace(rs, status=replace(rs.status, available_replicas=2))
    w.sync()
    assert w.condition(util.AVAILABLE) == ("False", util.MIN_UNAVAILABLE_REASON)
    c = cond(w.d.status, util.AVAILABLE)
    assert c.message == "Deployment does not have minimum availability."


def test_no_progress_deadline_removes_the_progressing_condition():
    w = rolled_out()
    w.d = replace(w.d, progress_deadline_seconds=None)
    w.sync()
    assert w.condition(util.PROGRESSING) is None


def test_replica_failure_of_the_new_rs_is_copied_to_the_deployment():
    w = rolled_out()
    new = w.new_rs()
    failure = Condition("ReplicaFailure", "True", "FailedCreate", "quota",
                             last_transition_time=format_time(T0))
    w.rss[new.name] = replace(new, status=replace(new.status, conditions=(failure,)))
    w.d = replace(w.d, status=replace(w.d.status, conditions=tuple(
        c for c in w.d.status.conditions if c.type != util.PROGRESSING)))
    w.sync()
    c = cond(w.d.status, util.REPLICA_FAILURE)
    assert (c.status, c.reason, c.message, c.last_update_time) == (
        "True", "FailedCreate", "quota", format_time(T0))


def test_resume_sets_deployment_resumed_and_then_rolls():
    w = rolled_out()
    w.d = replace(w.d, paused=True)
    w.sync()
    assert w.condition(util.PROGRESSING) == ("Unknown", util.PAUSED_REASON)
    w.change_template("demo:2", paused=False)
    plan = w.sync()
    assert any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    # Resumed first (Unknown), then the new RS: Progressing True NewReplicaSetCreated.
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_CREATED_REASON)


def test_paused_condition_never_overwrites_progress_deadline_exceeded():
    w = rolled_out()
    timed_out = util.new_condition(util.PROGRESSING, "False", util.TIMED_OUT_REASON, "x",
                                   format_time(T0))
    w.d = replace(w.d, paused=True, status=util.set_condition(w.d.status, timed_out))
    w.sync()
    assert w.condition(util.PROGRESSING) == ("False", util.TIMED_OUT_REASON)


def test_found_new_replica_set_when_no_progressing_condition_exists():
    w = rolled_out()
    w.d = replace(w.d, status=util.remove_condition(w.d.status, util.PROGRESSING),
                  generation=2)
    w.sync()
    # FoundNewReplicaSet is set, then the complete rollout turns it into NewReplicaSetAvailable.
    assert w.plans[-1].status is not None
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)


# --- ownership and collisions ------------------------------------------------------------------


def test_orphans_matching_the_selector_are_adopted_and_foreign_ones_left_alone():
    w = World(deployment())
    w.add_rs(ReplicaSet("orphan", "uo", "2024-01-01T00:00:00Z", 3, template("demo:1"),
                        labels={"app": "web"}))
    w.add_rs(ReplicaSet("foreign", "uf", "2024-01-01T00:00:00Z", 3, template("demo:1"),
                        labels={"app": "web"}, controller_uid="other"))
    w.add_rs(ReplicaSet("mine-no-match", "um", "2024-01-01T00:00:00Z", 0, template("x"),
                        labels={"app": "other"}, controller_uid="d-uid"))
    plan = w.sync()
    assert AdoptReplicaSet("orphan", "uo") in plan.actions
    assert ReleaseReplicaSet("mine-no-match", "um") in plan.actions
    assert not any(getattr(a, "name", "") == "foreign" for a in plan.actions)
    # The adopted RS has our template: it is the new RS, nothing is created.
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)


def test_hash_collision_bumps_collision_count_and_the_next_name_differs():
    d = deployment()
    foreign = ReplicaSet("web-x", "ux", "2024-01-01T00:00:00Z", 1, template("other"),
                         controller_uid="d-uid")
    status = after_create_conflict(d, foreign)
    assert status is not None and status.collision_count == 1
    first = next(a for a in plan_sync(d, [], [], T0).actions if isinstance(a, CreateReplicaSet))
    second = next(a for a in plan_sync(replace(d, status=status), [], [], T0).actions
                  if isinstance(a, CreateReplicaSet))
    assert first.name != second.name
    ours = replace(foreign, template=template("demo:1"))
    assert after_create_conflict(d, ours) is None


def test_other_create_errors_set_replica_set_create_error():
    status, event = after_create_error(deployment(), "web-abc", "quota exceeded", T0)
    assert status is not None
    c = cond(status, util.PROGRESSING)
    assert (c.status, c.reason) == ("False", "ReplicaSetCreateError")
    assert event.type == "Warning"
    assert event.message == 'Failed to create new replica set "web-abc": quota exceeded'
