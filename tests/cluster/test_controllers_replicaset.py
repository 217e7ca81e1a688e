"""ReplicaSet controller decisions (pkg/controller/replicaset, controller_utils.go)."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.cluster.controllers.objects import format_time
from webhook.cluster.controllers.replicaset import (
    BURST_REPLICAS,
    adopt_patch,
    calculate_status,
    claim_pods,
    min_ready_requeue,
    pod_from_template,
    pods_to_delete,
    release_patch,
    replicas_diff,
    slow_start_batches,
    status_needs_update,
)

NOW = 1_700_000_000.0


def rs(**spec: Any) -> dict[str, Any]:
    base = {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "h"}},
            "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "h"},
                                      "annotations": {"a": "1"}},
                         "spec": {"containers": [{"name": "web", "image": "demo:1"}]}}}
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-h", "namespace": "ns", "uid": "rs-uid", "generation": 2},
            "spec": base}


def pod(name: str, *, owner: str | None = "rs-uid", labels: dict[str, str] | None = None,
        ready_since: float | None = None, phase: str = "Running", node: str = "node",
        created: float = NOW - 100, uid: str | None = None, restarts: int = 0,
        deleting: bool = False, cost: int | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid or f"u-{name}",
                          "creationTimestamp": format_time(created),
                          "labels": labels if labels is not None else {
                              "app": "web", "pod-template-hash": "h"}}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                  "name": "web-h", "uid": owner, "controller": True}]
    if deleting:
        md["deletionTimestamp"] = format_time(NOW)
    if cost is not None:
        md["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    conditions = []
    if ready_since is not None:
        conditions.append({"type": "Ready", "status": "True",
                           "lastTransitionTime": format_time(ready_since)})
    else:
        conditions.append({"type": "Ready", "status": "False"})
    return {"metadata": md, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "web", "restartCount": restarts}]}}


# --- ownership ---------------------------------------------------------------------------------


def test_claim_pods_adopts_matching_orphans_releases_non_matching_and_skips_foreign():
    pods = [pod("mine"), pod("orphan", owner=None), pod("foreign", owner="other"),
            pod("strayed", labels={"app": "web"}), pod("orphan-deleting", owner=None,
                                                       deleting=True)]
    claim = claim_pods(rs(), pods)
    assert [p["metadata"]["name"] for p in claim.owned] == ["mine", "orphan"]
    assert claim.adopt == ("orphan",)
    assert claim.release == ("strayed",)


def test_adopt_and_release_patches_carry_the_uid_guard():
    assert adopt_patch(rs(), "pu") == {"metadata": {"ownerReferences": [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-h", "uid": "rs-uid",
        "controller": True, "blockOwnerDeletion": True}], "uid": "pu"}}
    assert release_patch("rs-uid", "pu") == {"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}], "uid": "pu"}}


# --- scaling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("want", "have", "diff"), [
    (3, 0, 3), (3, 5, -2), (3, 3, 0), (2000, 0, BURST_REPLICAS), (0, 900, -BURST_REPLICAS)])
def test_replicas_diff_is_capped_by_burst_replicas(want, have, diff):
    assert replicas_diff(rs(replicas=want), have) == diff


@pytest.mark.parametrize(("count", "batches"), [
    (1, [1]), (3, [1, 2]), (10, [1, 2, 4, 3]), (0, [])])
def test_slow_start_batches_double(count, batches):
    assert slow_start_batches(count) == batches


def test_pod_from_template_uses_generate_name_and_a_controller_reference():
    p = pod_from_template(rs())
    assert p["metadata"] == {
        "generateName": "web-h-", "namespace": "ns",
        "labels": {"app": "web", "pod-template-hash": "h"}, "annotations": {"a": "1"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-h",
                             "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}]}
    assert p["spec"] == {"containers": [{"name": "web", "image": "demo:1"}]}


def victims(pods: list[dict[str, Any]], n: int) -> list[str]:
    return [p["metadata"]["name"] for p in pods_to_delete(pods, pods, n, NOW)]


def test_scale_down_takes_unscheduled_then_pending_then_not_ready_first():
    pods = [pod("ready", ready_since=NOW - 50), pod("pending", phase="Pending"),
            pod("unscheduled", node="", phase="Pending"), pod("not-ready")]
    assert victims(pods, 3) == ["unscheduled", "pending", "not-ready"]


def test_scale_down_prefers_lower_deletion_cost_then_more_restarts():
    pods = [pod("cheap", ready_since=NOW - 50, cost=-5), pod("dear", ready_since=NOW - 50, cost=9),
            pod("flappy", ready_since=NOW - 50, restarts=4), pod("calm", ready_since=NOW - 50)]
    assert victims(pods, 3) == ["cheap", "flappy", "calm"]


def test_scale_down_takes_the_most_recently_ready_then_newest_by_log2_age_buckets():
    # Ready 10 s vs 1000 s ago: different log2(ns) buckets, the more recent goes first.
    pods = [pod("old", ready_since=NOW - 1000), pod("young", ready_since=NOW - 10)]
    assert victims(pods, 1) == ["young"]
    # Same ready time: creation time decides (newer first).
    pods = [pod("older", ready_since=NOW - 10, created=NOW - 5000),
            pod("newer", ready_since=NOW - 10, created=NOW - 60)]
    assert victims(pods, 1) == ["newer"]
    # Within one log2 bucket (ready 40 s and 50 s ago: both 2^35 ns) the uid breaks the tie.
    pods = [pod("b", ready_since=NOW - 40, uid="b"), pod("a", ready_since=NOW - 50, uid="a")]
    assert victims(pods, 1) == ["a"]


def test_scale_down_takes_pods_on_crowded_nodes_first():
    pods = [pod("alone", node="n1", ready_since=NOW - 50),
            pod("crowd1", node="n2", ready_since=NOW - 50, uid="1"),
            pod("crowd2", node="n2", ready_since=NOW - 50, uid="2")]
    assert victims(pods, 2) == ["crowd1", "crowd2"]


# --- status ------------------------------------------------------------------------------------


def test_status_counts_ready_and_available_with_min_ready_seconds():
    pods = [pod("a", ready_since=NOW - 30), pod("b", ready_since=NOW - 5), pod("c"),
            pod("d", labels={"app": "web"}, ready_since=NOW - 30)]
    status = calculate_status(rs(minReadySeconds=10), pods, None, NOW)
    assert status == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                      "availableReplicas": 2, "observedGeneration": 2}
    assert min_ready_requeue(rs(minReadySeconds=10, replicas=3), status) == 10.0


def test_status_omits_zero_counts_and_sets_replica_failure_on_errors():
    status = calculate_status(rs(), [], "pods \"x\" is forbidden: quota", NOW)
    assert status["conditions"] == [{
        "type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_time(NOW),
        "reason": "FailedCreate", "message": "pods \"x\" is forbidden: quota"}]
    assert status["replicas"] == 0 and "readyReplicas" not in status  # replicas: no omitempty
    cleared = calculate_status({**rs(), "status": status}, [], None, NOW)
    assert "conditions" not in cleared


def test_status_write_is_skipped_when_nothing_changed_and_generation_observed():
    current = rs()
    current["status"] = {"replicas": 1, "observedGeneration": 2}
    assert not status_needs_update(current, {"replicas": 1, "observedGeneration": 2})
    assert status_needs_update(current, {"replicas": 2, "observedGeneration": 2})
    current["status"]["observedGeneration"] = 1
    assert status_needs_update(current, {"replicas": 1, "observedGeneration": 2})
