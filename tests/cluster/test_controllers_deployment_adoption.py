"""What decides that a Deployment adopts a ReplicaSet and takes it as its *new* one, pinned
condition by condition (pkg/controller/controller_ref_manager.go ``ClaimObject`` /
``ClaimReplicaSets``, util/deployment_util.go ``FindNewReplicaSet`` / ``EqualIgnoreHash`` /
``SetNewReplicaSetAnnotations`` / ``IsSaturated``, sync.go ``getNewReplicaSet`` / ``scale``).
canarist's promotion hands the canary's ReplicaSet over on exactly these rules
(docs/release.md, "How the hand-over is proven safe").

The ReplicaSet handed over is built as the canary Deployment's controller makes it: template =
the Deployment's template plus its own ``pod-template-hash``, labels = the template's labels,
``revision`` 1 and the replica annotations of the canary.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from tests.cluster.deployment_world import rolled_out, template
from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import ReplicaSet, RSStatus
from webhook.cluster.controllers.deployment.plan import (
    AdoptReplicaSet,
    CreateReplicaSet,
    Plan,
    ReleaseReplicaSet,
    UpdateReplicaSet,
)
from webhook.cluster.controllers.deployment.sync import find_new_rs
from webhook.cluster.controllers.hashing import POD_TEMPLATE_HASH_LABEL

CREATED = "2030-01-01T00:00:00Z"  # after every ReplicaSet of ``rolled_out``


def canary_rs(image: str = "demo:2", replicas: int = 3, **kw: Any) -> ReplicaSet:
    """The canary Deployment's ReplicaSet for ``image``, orphaned (as after an Orphan delete)."""
    tpl = copy.deepcopy(template(image))
    tpl["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = "c4n4ry"
    base: dict[str, Any] = {
        "name": "web-canary-c4n4ry", "uid": "u-canary", "created": CREATED,
        "replicas": replicas, "template": tpl, "labels": dict(tpl["metadata"]["labels"]),
        "annotations": {util.REVISION: "1", util.DESIRED_REPLICAS: str(replicas),
                        util.MAX_REPLICAS: str(replicas + 1), "canarist.io/managed-by": "web"},
        "status": RSStatus(replicas=replicas, available_replicas=replicas,
                           ready_replicas=replicas, observed_generation=1),
        "controller_uid": None, "namespace": "ns",
    }
    base.update(kw)
    return ReplicaSet(**base)


def paused_for(image: str = "demo:2", **kw: Any) -> Any:
    """A Deployment rolled out on demo:1 (3 pods), then given ``image`` while paused — as
    canarist's admission webhook holds it."""
    w = rolled_out()
    w.change_template(image, paused=True, **kw)
    return w


def actions(plan: Plan, kind: type) -> list[Any]:
    return [a for a in plan.actions if isinstance(a, kind)]


def scaled(w: Any) -> dict[str, int]:
    """One sync of ``w``: the ReplicaSets whose count it changed, and to what."""
    before = {n: r.replicas for n, r in w.rss.items()}
    plan = w.sync()
    return {a.name: a.replicas for a in actions(plan, UpdateReplicaSet)
            if before.get(a.name) != a.replicas}


# --- ClaimReplicaSets: adoption -----------------------------------------------------------------

ADOPTION = [
    # (case, changes to the orphan, changes to the Deployment, adopted)
    ("an orphan the selector matches", {}, {}, True),
    ("labels the selector does not match", {"labels": {"app": "api"}}, {}, False),
    ("the ReplicaSet being deleted", {"deleting": True}, {}, False),
    ("the Deployment being deleted", {}, {"deleting": True}, False),
    ("controlled by another Deployment", {"controller_uid": "other"}, {}, False),
    ("in another namespace", {"namespace": "elsewhere"}, {}, False),
    # the selector is matched against the ReplicaSet's own labels, not its template's
    ("template labels match, its labels do not",
     {"labels": {"app": "other", POD_TEMPLATE_HASH_LABEL: "c4n4ry"}}, {}, False),
]


@pytest.mark.parametrize(("rs_changes", "d_changes", "adopted"),
                         [c[1:] for c in ADOPTION], ids=[c[0] for c in ADOPTION])
def test_claim_adopts_only_an_orphan_that_matches_while_neither_is_being_deleted(
    rs_changes: dict[str, Any], d_changes: dict[str, Any], adopted: bool
) -> None:
    w = paused_for()
    w.d = replace(w.d, **d_changes)
    orphan = replace(canary_rs(), **rs_changes)
    w.add_rs(orphan)
    plan = w.sync()
    assert (AdoptReplicaSet(orphan.name, orphan.uid) in plan.actions) is adopted


def test_an_owned_replica_set_whose_labels_stop_matching_is_released_unless_being_deleted():
    w = paused_for()
    mine = replace(canary_rs(), controller_uid=w.d.uid, labels={"app": "api"})
    w.add_rs(mine)
    assert ReleaseReplicaSet(mine.name, mine.uid) in w.sync().actions
    w.d = replace(w.d, deleting=True)
    assert ReleaseReplicaSet(mine.name, mine.uid) not in w.sync().actions


# --- FindNewReplicaSet / EqualIgnoreHash --------------------------------------------------------

NEW_RS = [
    # (case, the candidate's template relative to the Deployment's, is it the new one)
    ("equal but for pod-template-hash", {}, True),
    ("another label differs", {"labels": {"rollouts-pod-template-hash": "x"}}, False),
    ("the pod spec differs", {"image": "demo:3"}, False),
    ("an empty map where the Deployment has none", {"annotations": {}}, True),
]


@pytest.mark.parametrize(("change", "new"), [c[1:] for c in NEW_RS], ids=[c[0] for c in NEW_RS])
def test_the_new_replica_set_is_the_one_whose_template_equals_ignoring_the_hash_label(
    change: dict[str, Any], new: bool
) -> None:
    w = paused_for()
    rs = canary_rs("demo:3" if "image" in change else "demo:2")
    meta = rs.template["metadata"]
    meta["labels"].update(change.get("labels", {}))
    if "annotations" in change:
        meta["annotations"] = change["annotations"]
    found = find_new_rs(w.d, [*w.rss.values(), replace(rs, controller_uid=w.d.uid)])
    assert (found is not None and found.name == rs.name) is new


def test_of_two_equal_replica_sets_the_oldest_is_the_new_one_even_if_being_deleted():
    w = paused_for()
    mine = replace(canary_rs(replicas=0), name="web-old2", uid="u-old2",
                   created="2029-01-01T00:00:00Z", controller_uid=w.d.uid, deleting=True)
    adopted = replace(canary_rs(), controller_uid=w.d.uid)
    found = find_new_rs(w.d, [adopted, mine])
    assert found is not None and found.name == "web-old2"  # older: canarist must not hand over
    same_time = replace(mine, created=CREATED, name="web-zzz")
    found = find_new_rs(w.d, [adopted, same_time])
    assert found is not None and found.name == adopted.name  # ties: by name


# --- getNewReplicaSet on the adopted ReplicaSet -------------------------------------------------


def test_the_adopted_replica_set_is_renumbered_and_keeps_its_old_revision_in_the_history():
    w = paused_for(annotations={"team": "shop"})
    w.add_rs(canary_rs())
    w.sync()  # adopts; this sync goes on with the adopted one as the new ReplicaSet
    rs = w.rss["web-canary-c4n4ry"]
    old_max = max(util.revision_of(r) or 0 for r in w.rss.values() if r is not rs)
    assert rs.annotations[util.REVISION] == str(old_max + 1)
    assert rs.annotations[util.REVISION_HISTORY] == "1"  # its revision in the canary
    assert rs.annotations["team"] == "shop"  # the Deployment's annotations copied
    assert rs.annotations["canarist.io/managed-by"] == "web"  # never removed
    # the replica annotations are the canary's until a scale rewrites them
    assert rs.annotations[util.DESIRED_REPLICAS] == "3"
    w.sync()
    assert w.d.annotations[util.REVISION] == str(old_max + 1)  # the next sync, as upstream


def test_the_adopted_replica_set_keeps_its_pod_template_hash_and_gets_min_ready_seconds():
    w = paused_for(min_ready_seconds=5)
    w.add_rs(canary_rs())
    plan = w.sync()
    [update] = [a for a in actions(plan, UpdateReplicaSet) if a.name == "web-canary-c4n4ry"]
    assert update.min_ready_seconds == 5
    rs = w.rss["web-canary-c4n4ry"]
    assert rs.labels[POD_TEMPLATE_HASH_LABEL] == "c4n4ry"
    assert rs.template["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] == "c4n4ry"


def test_an_unparsable_revision_is_left_alone():
    w = paused_for()
    rs = canary_rs()
    w.add_rs(replace(rs, annotations={**rs.annotations, util.REVISION: "one"}))
    w.sync()
    assert w.rss["web-canary-c4n4ry"].annotations[util.REVISION] == "one"


# --- scale while paused: why canarist hands over only a saturated ReplicaSet --------------------


def test_paused_a_saturated_adopted_replica_set_scales_every_old_one_to_zero():
    w = paused_for()
    [old] = [n for n, r in w.rss.items() if r.replicas]
    w.add_rs(canary_rs())
    assert scaled(w) == {old: 0}
    plan = w.plans[-1]
    assert not actions(plan, CreateReplicaSet)
    assert w.rss["web-canary-c4n4ry"].replicas == 3  # its pods stay
    assert plan.status is not None and plan.status.updated_replicas == 3


def test_paused_below_the_adopted_count_the_adopted_replica_set_is_scaled_down():
    """One active ReplicaSet gets spec.replicas (``FindActiveOrLatest``): handed over while
    spec.replicas is below its count, its pods would go — canarist gives the count back first."""
    w = paused_for(replicas=2)
    for name, rs in list(w.rss.items()):
        w.rss[name] = replace(rs, replicas=0, status=RSStatus())
    w.add_rs(canary_rs(replicas=3))
    assert scaled(w) == {"web-canary-c4n4ry": 2}


def test_paused_an_adopted_replica_set_not_yet_saturated_shares_proportionally():
    """Not all its pods available: no saturation, proportional scaling (allowed 3+1, 6 asked
    for: -2), the oldest of equal size first — the old ReplicaSet shrinks, the adopted keeps its
    pods (its max-replicas annotation is the Deployment's R + surge)."""
    w = paused_for()
    [old] = [n for n, r in w.rss.items() if r.replicas]
    w.add_rs(canary_rs(status=RSStatus(replicas=3, available_replicas=2, ready_replicas=2,
                                       observed_generation=1)))
    assert scaled(w) == {old: 1}


def test_unpausing_after_the_adoption_creates_no_replica_set_and_completes():
    w = paused_for()
    w.add_rs(canary_rs())
    w.sync()
    w.settle()
    w.d = replace(w.d, paused=False, generation=w.d.generation + 1)
    w.run(4)
    assert not [p for p in w.plans[-4:] if actions(p, CreateReplicaSet)]
    assert {n: r.replicas for n, r in w.rss.items() if r.replicas} == {"web-canary-c4n4ry": 3}
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)
    assert w.d.status.collision_count is None  # adoption is not a collision


def test_an_unpaused_deployment_adopting_its_new_replica_set_creates_none():
    """Unpaused with the orphan there: the same sync adopts it, takes it as the new one (its
    annotations are synced first, so the Progressing condition waits for the next sync, as
    upstream's getNewReplicaSet returns after that update) and scales the old one down."""
    w = rolled_out()
    w.change_template("demo:2")
    w.add_rs(canary_rs())
    w.run(3)
    assert not [p for p in w.plans[-3:] if actions(p, CreateReplicaSet)]
    assert {n: r.replicas for n, r in w.rss.items() if r.replicas} == {"web-canary-c4n4ry": 3}
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)
