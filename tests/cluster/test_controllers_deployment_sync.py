"""The Deployment controller's sync, planned without an API (pkg/controller/deployment):
creation, rolling update, Recreate and revision history, on ``deployment_world.World``.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as hs

from tests.cluster.deployment_world import World, cond, deployment, rolled_out, template
from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    DeploymentStatus,
    PodRef,
    ReplicaSet,
    RSStatus,
)
from webhook.cluster.controllers.deployment.plan import (
    CreateReplicaSet,
    DeleteReplicaSet,
    Plan,
    UpdateReplicaSet,
)

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


@functools.cache
def _rollout_started() -> tuple[World, str, str]:
    """4 replicas, maxSurge 1, maxUnavailable 1, one sync into a rollout: (world, old, new)."""
    w = rolled_out(replicas=4, max_surge=1, max_unavailable=1)
    old = w.new_rs().name
    w.change_template("demo:2")
    w.sync()
    return w, old, w.new_rs().name


def _peak_total(before: dict[str, int], plan: Plan) -> int:
    """The largest total spec.replicas seen after each write of ``plan``, in order (the
    loop stops at the first failed write, so every prefix of a plan is a state)."""
    sizes, peak = dict(before), sum(before.values())
    for action in plan.actions:
        if isinstance(action, UpdateReplicaSet):
            sizes[action.name] = action.replicas
            peak = max(peak, sum(sizes.values()))
    return peak


def _lagging(old: tuple[int, int, int], new: tuple[int, int, int]) -> tuple[World, str, str]:
    """The started rollout with each RS at (spec, status.replicas, status.available): a
    status may still count pods the ReplicaSet controller has not deleted yet."""
    base, old_name, new_name = _rollout_started()
    w = World(base.d, base.now)
    for name, (spec, replicas, available) in ((old_name, old), (new_name, new)):
        rs = base.rss[name]
        w.add_rs(replace(rs, replicas=spec, status=RSStatus(
            replicas=replicas, fully_labeled_replicas=replicas, ready_replicas=available,
            available_replicas=available, observed_generation=rs.generation)))
    return w, old_name, new_name


@pytest.mark.parametrize(("old", "new", "sizes", "failed"), [
    # Old RS just scaled 3 -> 2, its status still counts 3 available pods: cleanupUnhealthy
    # would "scale down" by 2 - 3 = -1 (to 3, past maxSurge); upstream fails the sync.
    ((2, 3, 3), (3, 3, 2), (2, 3), True),
    # The ReplicaSet controller caught up: one more old pod may go.
    ((2, 2, 2), (3, 3, 2), (1, 3), False),
    # One old pod unavailable: it goes first, then one available one (budget 5 - 3 - 0 = 2).
    ((3, 3, 2), (2, 2, 2), (1, 2), False),
    # Room under maxSurge: the new RS grows first and the old RS is not looked at.
    ((2, 3, 3), (2, 2, 2), (2, 3), False),
])
def test_rolling_update_never_scales_an_old_replica_set_up_while_its_status_lags(
        old, new, sizes, failed):
    """rolling.go cleanupUnhealthyReplicas: ``newReplicasCount > spec.replicas`` is an error,
    never a write that would take the old RS back up past maxSurge."""
    w, old_name, new_name = _lagging(old, new)
    before = w.sizes()
    plan = w.sync()
    assert _peak_total(before, plan) <= 5
    assert (w.rss[old_name].replicas, w.rss[new_name].replicas) == sizes
    assert plan.retry is failed
    if failed:
        assert plan.actions == () and plan.status is None
        assert plan.notes == (
            "when cleaning up unhealthy replicas, got invalid request to scale down "
            f"ns/{old_name} 2 -> 3",)


_SPEC = hs.integers(0, 5)


@given(old_spec=hs.integers(0, 4), new_spec=hs.integers(1, 4), old_st=_SPEC, new_st=_SPEC,
       old_avail=_SPEC, new_avail=_SPEC)
def test_rolling_update_stays_within_max_surge_whatever_the_status_lag(
        old_spec, new_spec, old_st, new_st, old_avail, new_avail):
    """Whatever the ReplicaSets' statuses report, a RollingUpdate sync only scales old RSs
    down and keeps the total spec within replicas + maxSurge."""
    assume(old_spec + new_spec <= 5)
    w, old_name, _ = _lagging((old_spec, old_st, min(old_avail, old_st)),
                              (new_spec, new_st, min(new_avail, new_st)))
    before = w.sizes()
    plan = w.sync()
    assert all(a.replicas <= old_spec for a in plan.actions
               if isinstance(a, UpdateReplicaSet) and a.name == old_name)
    assert _peak_total(before, plan) <= 5


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
