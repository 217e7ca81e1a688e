"""The Deployment controller's sync, planned without an API (pkg/controller/deployment).

A small in-memory world applies each ``Plan`` and plays the ReplicaSet controller: after a
``settle`` every RS reports ``status.replicas == spec.replicas`` and the pods created in the
previous round become available, so rollouts proceed step by step as upstream's do.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Condition,
    Deployment,
    DeploymentStatus,
    PodRef,
    ReplicaSet,
    RSStatus,
    parse_replicaset,
)
from webhook.cluster.controllers.deployment.plan import (
    AdoptReplicaSet,
    CreateReplicaSet,
    DeleteReplicaSet,
    Plan,
    RecordEvent,
    ReleaseReplicaSet,
    UpdateReplicaSet,
)
from webhook.cluster.controllers.deployment.sync import (
    after_create_conflict,
    after_create_error,
    plan_sync,
)
from webhook.cluster.controllers.objects import format_time

T0 = 1_700_000_000.0


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = {"namespace": "ns", "name": "web", "uid": "d-uid", "generation": 1,
                            "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                            "template": template("demo:1")}
    base.update(kw)
    return Deployment(**base)


class World:
    """Applies plans; ``settle`` plays the ReplicaSet controller and the kubelet."""

    def __init__(self, d: Deployment, now: float = T0) -> None:
        self.d = d
        self.now = now
        self.rss: dict[str, ReplicaSet] = {}
        self.events: list[str] = []
        self.pods: list[PodRef] = []
        self.plans: list[Plan] = []
        self._n = 0

    def add_rs(self, rs: ReplicaSet) -> None:
        self.rss[rs.name] = rs

    def sync(self) -> Plan:
        plan = plan_sync(self.d, list(self.rss.values()), self.pods, self.now)
        self.apply(plan)
        self.plans.append(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        for action in plan.actions:
            match action:
                case CreateReplicaSet(name=name, manifest=manifest, event=event):
                    self._n += 1
                    raw = copy.deepcopy(dict(manifest))
                    raw["metadata"].update(uid=f"rs-{self._n}", generation=1,
                                           creationTimestamp=format_time(self.now + self._n))
                    self.rss[name] = parse_replicaset(raw)
                    if event:
                        self.events.append(event.message)
                case UpdateReplicaSet(name=name, replicas=n, annotations=ann,
                                      min_ready_seconds=mrs, event=event):
                    old = self.rss[name]
                    bump = 1 if (n, mrs) != (old.replicas, old.min_ready_seconds) else 0
                    self.rss[name] = replace(old, replicas=n, annotations=dict(ann),
                                             min_ready_seconds=mrs,
                                             generation=old.generation + bump)
                    if event:
                        self.events.append(event.message)
                case DeleteReplicaSet(name=name):
                    del self.rss[name]
                case AdoptReplicaSet(name=name):
                    self.rss[name] = replace(self.rss[name], controller_uid=self.d.uid)
                case ReleaseReplicaSet(name=name):
                    self.rss[name] = replace(self.rss[name], controller_uid=None)
                case RecordEvent(event=event):
                    self.events.append(f"{event.reason}: {event.message}")
        if plan.status is not None:
            self.d = replace(self.d, status=plan.status)
        if plan.revision is not None:
            self.d = replace(self.d, annotations={**self.d.annotations,
                                                  util.REVISION: plan.revision})

    def settle(self, *, ready: bool = True) -> None:
        """Pods of last round become available (``ready=False``: no pod becomes available);
        status.replicas follows spec at once."""
        for name, rs in self.rss.items():
            prev = rs.status.replicas if ready else rs.status.available_replicas
            avail = min(rs.replicas, prev)
            self.rss[name] = replace(rs, status=RSStatus(
                replicas=rs.replicas, fully_labeled_replicas=rs.replicas, ready_replicas=avail,
                available_replicas=avail, observed_generation=rs.generation))

    def run(self, rounds: int = 60) -> None:
        for _ in range(rounds):
            self.sync()
            self.settle()
            self.now += 1

    def sizes(self) -> dict[str, int]:
        return {name: rs.replicas for name, rs in self.rss.items()}

    def new_rs(self) -> ReplicaSet:
        [match] = [rs for rs in self.rss.values()
                   if rs.template["spec"] == self.d.template["spec"]]
        return match

    def change_template(self, image: str, **kw: Any) -> None:
        self.d = replace(self.d, template=template(image), generation=self.d.generation + 1, **kw)

    def condition(self, ctype: str) -> tuple[str, str] | None:
        c = util.get_condition(self.d.status.conditions, ctype)
        return (c.status, c.reason) if c else None


def cond(status: DeploymentStatus, ctype: str) -> Condition:
    found = util.get_condition(status.conditions, ctype)
    assert found is not None, f"no {ctype} condition"
    return found


def rolled_out(image: str = "demo:1", **kw: Any) -> World:
    w = World(deployment(template=template(image), **kw))
    w.run(8)
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)
    return w


# --- creation ----------------------------------------------------------------------------------


def test_first_sync_creates_the_new_replica_set_named_after_the_hash_with_upstream_metadata():
    w = World(deployment(annotations={"team": "a", util.LAST_APPLIED: "{}"}))
    plan = w.sync()
    [create] = [a for a in plan.actions if isinstance(a, CreateReplicaSet)]
    md = create.manifest["metadata"]
    pod_hash = md["labels"]["pod-template-hash"]
    assert create.name == md["name"] == f"web-{pod_hash}"
    assert md["labels"] == {"app": "web", "pod-template-hash": pod_hash}  # template labels
    assert md["annotations"] == {"team": "a", util.REVISION: "1", util.DESIRED_REPLICAS: "3",
                                 util.MAX_REPLICAS: "4"}
    assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "web", "uid": "d-uid", "controller": True,
                                      "blockOwnerDeletion": True}]
    spec = create.manifest["spec"]
    assert spec["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": pod_hash}}
    assert spec["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert spec["replicas"] == 3
    assert w.events == [f"Scaled up replica set {create.name} from 0 to 3"]
    assert plan.revision == "1"
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_CREATED_REASON)
    assert cond(w.d.status, util.PROGRESSING).message == (
        f'Created new replica set "{create.name}"')


def test_a_new_rollout_reaches_complete_status_with_upstream_conditions():
    w = rolled_out()
    st = w.d.status
    assert (st.replicas, st.updated_replicas, st.ready_replicas, st.available_replicas,
            st.unavailable_replicas, st.observed_generation) == (3, 3, 3, 3, 0, 1)
    assert w.condition(util.AVAILABLE) == ("True", util.MIN_AVAILABLE_REASON)
    prog = cond(st, util.PROGRESSING)
    assert prog.message == f'ReplicaSet "{w.new_rs().name}" has successfully progressed.'
    assert [c.type for c in st.conditions] == [util.AVAILABLE, util.PROGRESSING]
    assert st.to_json()["replicas"] == 3 and "unavailableReplicas" not in st.to_json()


def test_a_deployment_created_paused_gets_no_replica_set():
    w = World(deployment(paused=True))
    plan = w.sync()
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    assert w.rss == {}
    assert w.condition(util.PROGRESSING) == ("Unknown", util.PAUSED_REASON)
    assert w.d.status.observed_generation == 1


def test_an_empty_selector_only_warns_selecting_all_and_observes_the_generation():
    w = World(deployment(selector={}, generation=4))
    plan = w.sync()
    assert w.events == ["SelectingAll: This deployment is selecting all pods. "
                        "A non-empty selector is required."]
    assert plan.status == DeploymentStatus(observed_generation=4)
    assert w.rss == {}


# --- rolling update ----------------------------------------------------------------------------


@pytest.mark.parametrize(("replicas", "surge", "unavail"), [
    (3, "25%", "25%"), (10, "25%", "25%"), (10, 3, 2), (4, 0, 1), (5, "100%", 0), (1, 1, 0),
])
def test_rolling_update_respects_max_surge_and_max_unavailable_at_every_step(
        replicas, surge, unavail):
    w = rolled_out(replicas=replicas, max_surge=surge, max_unavailable=unavail)
    w.change_template("demo:2")
    d = w.d
    max_total = replicas + util.max_surge(d)
    min_available = replicas - util.max_unavailable(d)
    for _ in range(80):
        w.sync()
        assert sum(w.sizes().values()) <= max_total
        w.settle()
        assert sum(rs.status.available_replicas for rs in w.rss.values()) >= min_available
        w.now += 1
    new = w.new_rs()
    assert new.replicas == replicas
    assert all(rs.replicas == 0 for rs in w.rss.values() if rs.name != new.name)
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)
    assert w.d.annotations[util.REVISION] == "2"
    assert new.annotations[util.REVISION] == "2"


def test_rolling_update_events_say_scaled_up_and_down_from_and_to():
    w = rolled_out(replicas=2, max_surge=1, max_unavailable=0)
    old = w.new_rs().name
    w.events.clear()
    w.change_template("demo:2")
    w.run(20)
    new = w.new_rs().name
    assert w.events == [
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 2 to 1",
        f"Scaled up replica set {new} from 1 to 2",
        f"Scaled down replica set {old} from 1 to 0",
    ]


def test_progress_is_reported_as_replica_set_updated_while_rolling():
    w = rolled_out(replicas=4, max_surge=1, max_unavailable=0)
    w.change_template("demo:2")
    w.sync()
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_CREATED_REASON)
    w.settle()
    w.now += 1
    w.sync()
    assert w.condition(util.PROGRESSING) == ("True", util.RS_UPDATED_REASON)
    msg = cond(w.d.status, util.PROGRESSING).message
    assert msg == f'ReplicaSet "{w.new_rs().name}" is progressing.'


def test_cleanup_unhealthy_replicas_scales_down_unavailable_old_replicas_first():
    # Old RS has 3 spec but only 1 available: the 2 unavailable go first (oldest RS first).
    w = rolled_out(replicas=3, max_surge=1, max_unavailable=0)
    old = w.new_rs()
    w.rss[old.name] = replace(old, status=replace(old.status, available_replicas=1,
                                                  ready_replicas=1))
    w.change_template("demo:2")
    w.sync()   # new RS created with 1 (surge)
    plan = w.sync()
    scaled = [a for a in plan.actions if isinstance(a, UpdateReplicaSet) and a.name == old.name]
    # maxScaledDown = 4 - 3 - 1 (new RS unavailable) = 0 -> nothing yet
    assert scaled == []
    new = w.new_rs()
    w.rss[new.name] = replace(new, status=RSStatus(replicas=1, ready_replicas=1,
                                                   available_replicas=1, observed_generation=1))
    plan = w.sync()
    [scaled_old] = [a for a in plan.actions if isinstance(a, UpdateReplicaSet)]
    # maxScaledDown = 4 total - 3 minAvailable - 0 new unavailable = 1: one unavailable old
    # replica goes although only 2 replicas are available overall (below minAvailable).
    assert (scaled_old.name, scaled_old.replicas) == (old.name, 2)


# --- Recreate ----------------------------------------------------------------------------------


def test_recreate_scales_old_to_zero_and_waits_for_old_pods_before_creating_the_new_rs():
    w = rolled_out(strategy_type="Recreate")
    old = w.new_rs()
    w.change_template("demo:2")
    plan = w.sync()
    assert [(a.name, a.replicas) for a in plan.actions if isinstance(a, UpdateReplicaSet)] == [
        (old.name, 0)]
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    # Old RS still reports replicas: nothing happens.
    assert not any(isinstance(a, CreateReplicaSet) for a in w.sync().actions)
    w.settle()
    # Status says 0, but a terminating old pod is still Running: still wait (oldPodsRunning).
    w.pods = [PodRef("web-old-x", old.uid, "Running")]
    assert not any(isinstance(a, CreateReplicaSet) for a in w.sync().actions)
    w.pods = [PodRef("web-old-x", old.uid, "Succeeded")]  # terminal phases do not count
    plan = w.sync()
    [create] = [a for a in plan.actions if isinstance(a, CreateReplicaSet)]
    assert create.manifest["spec"]["replicas"] == 3  # Recreate: straight to spec.replicas


def test_recreate_does_not_scale_proportionally():
    w = World(deployment(strategy_type="Recreate", replicas=5))
    w.add_rs(ReplicaSet("a", "ua", "2024-01-01T00:00:00Z", 2, template("demo:0"),
                        labels={"app": "web"}, controller_uid="d-uid",
                        annotations={util.DESIRED_REPLICAS: "4", util.MAX_REPLICAS: "4"}))
    w.add_rs(ReplicaSet("b", "ub", "2024-01-01T00:00:01Z", 2, template("demo:1"),
                        labels={"app": "web"}, controller_uid="d-uid",
                        annotations={util.DESIRED_REPLICAS: "4", util.MAX_REPLICAS: "4",
                                     util.REVISION: "2"}))
    plan = w.sync()  # scaling event (desired 4 != 5) with two active RSs
    assert not any(isinstance(a, UpdateReplicaSet) for a in plan.actions)


# --- history -----------------------------------------------------------------------------------


def test_history_cleanup_deletes_the_oldest_revisions_beyond_the_limit_skipping_busy_ones():
    w = rolled_out(revision_history_limit=2)
    current = w.new_rs()
    for i in range(1, 6):
        w.add_rs(ReplicaSet(
            f"old{i}", f"u{i}", f"2023-01-01T00:00:0{i}Z", 0, template(f"demo:0.{i}"),
            labels={"app": "web"}, controller_uid="d-uid",
            annotations={util.REVISION: str(10 + i)}, generation=1,
            status=RSStatus(replicas=1 if i == 1 else 0, observed_generation=1)))
    w.rss["old4"] = replace(w.rss["old4"], generation=2)  # unobserved spec change: kept
    w.d = replace(w.d, annotations={util.REVISION: "1"})
    plan = w.sync()
    deleted = [a.name for a in plan.actions if isinstance(a, DeleteReplicaSet)]
    # 5 old RSs, limit 2: the 3 lowest revisions are candidates; old1 (a pod left) is skipped
    # and does not make room for a fourth.
    assert deleted == ["old2", "old3"]
    assert current.name in w.rss


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
