"""Scaling events, proportional scaling and paused Deployments (sync.go ``sync``/``scale``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Deployment,
    DeploymentStatus,
    ReplicaSet,
    RSStatus,
)
from webhook.cluster.controllers.deployment.plan import CreateReplicaSet, Plan, UpdateReplicaSet
from webhook.cluster.controllers.deployment.scale import (
    find_active_or_latest,
    proportional_sizes,
    round_half_away,
)
from webhook.cluster.controllers.deployment.sync import plan_sync

T0 = 1_700_000_000.0


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = {"namespace": "ns", "name": "web", "uid": "d-uid", "generation": 3,
                            "replicas": 10, "selector": {"matchLabels": {"app": "web"}},
                            "template": template("demo:2"), "max_surge": 3,
                            "max_unavailable": 2}
    base.update(kw)
    return Deployment(**base)


def rs(name: str, replicas: int, image: str, created: str, *, available: int | None = None,
       desired: int | None = 10, max_replicas: int | None = 13, revision: int = 1
       ) -> ReplicaSet:
    ann = {util.REVISION: str(revision)}
    if desired is not None:
        ann[util.DESIRED_REPLICAS] = str(desired)
    if max_replicas is not None:
        ann[util.MAX_REPLICAS] = str(max_replicas)
    avail = replicas if available is None else available
    return ReplicaSet(name=name, uid=f"uid-{name}", created=created, replicas=replicas,
                      template=template(image), labels={"app": "web"}, annotations=ann,
                      controller_uid="d-uid", generation=1,
                      status=RSStatus(replicas=replicas, ready_replicas=avail,
                                      available_replicas=avail, observed_generation=1))


OLD = "2024-01-01T00:00:00Z"
NEW = "2024-01-01T00:01:00Z"


def scaled(plan: Plan) -> dict[str, int]:
    return {a.name: a.replicas for a in plan.actions if isinstance(a, UpdateReplicaSet)}


def test_the_worked_example_of_proportional_scaling_from_the_upstream_docs():
    """replicas 10, maxSurge 3, maxUnavailable 2, mid-rollout old=8 new=5 (max-replicas 13);
    scaled to 15: allowed 18, toAdd 5 -> old round(8*18/13)=11, new round(5*18/13)=7."""
    d = deployment(replicas=15)
    old = rs("web-old", 8, "demo:1", OLD, available=8)
    new = rs("web-new", 5, "demo:2", NEW, available=0, revision=2)
    plan = plan_sync(d, [old, new], [], T0)
    assert scaled(plan) == {"web-old": 11, "web-new": 7}
    for action in plan.actions:
        if isinstance(action, UpdateReplicaSet):
            assert action.annotations[util.DESIRED_REPLICAS] == "15"
            assert action.annotations[util.MAX_REPLICAS] == "18"
    events = [a.event.message for a in plan.actions
              if isinstance(a, UpdateReplicaSet) and a.event]
    assert events == ["Scaled up replica set web-old from 8 to 11",
                      "Scaled up replica set web-new from 5 to 7"]


@pytest.mark.parametrize(("replicas", "old", "new", "expected"), [
    (15, 8, 5, {"web-old": 11, "web-new": 7}),    # the docs example
    (5, 8, 5, {"web-old": 5, "web-new": 3}),      # down: round(8*8/13)=5, round(5*8/13)=3
    (0, 8, 5, {"web-old": 0, "web-new": 0}),      # to zero: every active RS to 0
    (10, 8, 5, {"web-old": 8, "web-new": 5}),     # no change in allowed size
])
def test_proportional_sizes_table(replicas, old, new, expected):
    d = deployment(replicas=replicas)
    sizes, _ = proportional_sizes(d, [rs("web-old", old, "demo:1", OLD),
                                      rs("web-new", new, "demo:2", NEW)])
    assert {r.name: n for r, n in sizes} == expected
    allowed = replicas + util.max_surge(d) if replicas else 0
    assert sum(expected.values()) == allowed


def test_proportional_leftover_goes_to_the_largest_rs_newest_first_on_ties():
    d = deployment(replicas=11, max_surge=0, max_unavailable=1)
    a = rs("a", 5, "demo:1", OLD, max_replicas=10)
    b = rs("b", 5, "demo:2", NEW, max_replicas=10)
    sizes, op = proportional_sizes(d, [a, b])
    # toAdd 1: a round(5*11/10)=6 -> min(1, 1)... sorted newest first on ties: b gets it.
    assert op == "up"
    assert [(r.name, n) for r, n in sizes] == [("b", 6), ("a", 5)]


@pytest.mark.parametrize(("value", "expected"), [(2.5, 3), (-2.5, -3), (2.49, 2), (0.5, 1)])
def test_round_to_int32_rounds_half_away_from_zero(value, expected):
    assert round_half_away(value) == expected


def test_missing_max_replicas_annotation_falls_back_to_status_replicas():
    d = deployment(replicas=20, max_surge=0, max_unavailable=1,
                   status=DeploymentStatus(replicas=10))
    a = rs("a", 6, "demo:1", OLD, max_replicas=None)
    b = rs("b", 4, "demo:2", NEW, max_replicas=None)
    sizes, _ = proportional_sizes(d, [a, b])
    assert {r.name: n for r, n in sizes} == {"a": 12, "b": 8}


# --- FindActiveOrLatest and saturation ---------------------------------------------------------


def test_a_single_active_rs_is_scaled_straight_to_spec_replicas():
    d = deployment(replicas=7)
    only = rs("web-new", 10, "demo:2", NEW, revision=2)
    idle = rs("web-old", 0, "demo:1", OLD)
    assert scaled(plan_sync(d, [idle, only], [], T0)) == {"web-new": 7}


def test_with_no_active_rs_the_newest_old_rs_is_scaled_when_there_is_no_new_rs():
    a = rs("a", 0, "demo:0", OLD)
    b = rs("b", 0, "demo:1", NEW)
    assert find_active_or_latest(None, [a, b]) is b


def test_a_saturated_new_rs_scales_every_active_old_rs_to_zero():
    d = deployment(replicas=10)
    new = rs("web-new", 10, "demo:2", NEW, available=10, revision=2)
    old = rs("web-old", 3, "demo:1", OLD, desired=12)
    plan = plan_sync(d, [old, new], [], T0)
    assert scaled(plan) == {"web-old": 0}


# --- paused ------------------------------------------------------------------------------------


def paused_world(**kw: Any) -> tuple[Deployment, list[ReplicaSet]]:
    """A paused Deployment whose template changed (demo:3) while old and new RS are active."""
    d = deployment(paused=True, template=template("demo:3"), **kw)
    return d, [rs("web-old", 8, "demo:1", OLD), rs("web-new", 5, "demo:2", NEW, revision=2)]


def test_paused_template_change_creates_no_replica_set_and_keeps_every_pod():
    d, rss = paused_world()
    plan = plan_sync(d, rss, [], T0)
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)
    assert scaled(plan) == {}
    assert plan.status is not None
    assert plan.status.updated_replicas == 0          # no new RS while paused
    assert plan.status.observed_generation == 3       # observed even though nothing rolled
    assert plan.status.replicas == 13
    cond = util.get_condition(plan.status.conditions, util.PROGRESSING)
    assert cond is not None
    assert (cond.status, cond.reason, cond.message) == (
        "Unknown", "DeploymentPaused", "Deployment is paused")


def test_paused_deployment_still_scales_proportionally_across_active_replica_sets():
    d, rss = paused_world(replicas=15)
    plan = plan_sync(d, rss, [], T0)
    assert scaled(plan) == {"web-old": 11, "web-new": 7}
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)


def test_paused_with_one_active_rs_scales_it_directly():
    d = deployment(paused=True, replicas=4, template=template("demo:9"))
    only = rs("web-old", 2, "demo:1", OLD, desired=2)
    assert scaled(plan_sync(d, [only], [], T0)) == {"web-old": 4}


def test_paused_scale_down_takes_from_the_largest_oldest_first():
    d, rss = paused_world(replicas=6)
    plan = plan_sync(d, rss, [], T0)
    sizes = scaled(plan)
    # allowed 6+3=9 (maxSurge 3 is an int); toAdd -4: old round(8*9/13)=6 (-2), new round(5*9/13)
    # =3 (-2); every RS keeps its share.
    assert sizes == {"web-old": 6, "web-new": 3}


def test_unpausing_after_a_paused_template_change_creates_the_new_rs():
    d, rss = paused_world()
    plan = plan_sync(replace(d, paused=False), rss, [], T0)
    assert any(isinstance(a, CreateReplicaSet) for a in plan.actions)
