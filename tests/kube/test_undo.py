"""``canarist undo``'s decision, case by case: which revision, and how (``plan_undo``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhook.kube.undo import Kind, Refused, Undo, plan_undo
from webhook.spec.hashing import revision_hash

UID = "uid-web"


def template(version: str) -> dict[str, Any]:
    tpl: dict[str, Any] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": f"demo:{version}"}]},
    }
    tpl["metadata"]["labels"]["rollouts-pod-template-hash"] = revision_hash(tpl)
    return tpl


H = {v: revision_hash(template(v)) for v in ("v1", "v2", "v3")}


def replica_set(version: str, revision: int | None, *, owner: str = UID) -> dict[str, Any]:
    tpl = template(version)
    tpl["metadata"]["labels"]["pod-template-hash"] = f"p{version}"
    annotations = {} if revision is None else {"deployment.kubernetes.io/revision": str(revision)}
    return {
        "metadata": {
            "name": f"web-p{version}",
            "annotations": annotations,
            "ownerReferences": [{"uid": owner, "kind": "Deployment", "name": "web"}],
        },
        "spec": {"template": tpl},
    }


def deployment(version: str, stable: str | None, *, opted_in: bool = True) -> dict[str, Any]:
    annotations = {}
    if stable is not None:
        annotations["canarist.io/status"] = json.dumps(
            {"phase": "Paused" if H[stable] != H[version] else "Healthy",
             "stableHash": H[stable], "canaryHash": H[version]}
        )
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": UID,
            "resourceVersion": "42",
            "labels": {"canarist.io/enabled": "true"} if opted_in else {},
            "annotations": annotations,
        },
        "spec": {"template": template(version)},
    }


HISTORY = [replica_set("v1", 1), replica_set("v2", 2)]


@pytest.mark.parametrize(
    ("current", "stable", "rs", "to", "skip", "kind", "revision"),
    [
        # mid-release (v3 held, stable v2): back to the stable revision, no step runs
        ("v3", "v2", HISTORY, None, False, Kind.ROLLBACK, 2),
        ("v3", "v2", HISTORY, None, True, Kind.ROLLBACK, 2),  # nothing to skip
        ("v3", "v2", HISTORY, 1, False, Kind.RELEASE, 1),  # another one: a new release
        # at rest on v2: the previous revision, through the steps or straight there
        ("v2", "v2", HISTORY, None, False, Kind.RELEASE, 1),
        ("v2", "v2", HISTORY, None, True, Kind.SKIP, 1),
        ("v2", "v2", HISTORY, 2, False, Kind.NOTHING, 2),  # already there
        # a Deployment adopted without a status yet: its own template is the stable one
        ("v2", None, HISTORY, None, False, Kind.RELEASE, 1),
        # ReplicaSets of another owner, or without a revision, are not history
        ("v2", "v2", [*HISTORY, replica_set("v3", 9, owner="other"), replica_set("v3", None)],
         None, False, Kind.RELEASE, 1),
    ],
)
def test_which_revision_and_how(
    current: str,
    stable: str | None,
    rs: list[dict[str, Any]],
    to: int | None,
    skip: bool,
    kind: Kind,
    revision: int,
) -> None:
    got = plan_undo(deployment(current, stable), rs, to_revision=to, skip_steps=skip)
    assert isinstance(got, Undo), got
    assert (got.kind, got.revision) == (kind, revision)
    assert "pod-template-hash" not in got.template["metadata"]["labels"]  # as kubectl does


@pytest.mark.parametrize(
    ("d", "rs", "to", "reason"),
    [
        (deployment("v2", "v2", opted_in=False), HISTORY, None, "use kubectl rollout undo"),
        (deployment("v1", "v1"), HISTORY[:1], None, "no earlier revision to go back to"),
        (deployment("v2", "v2"), HISTORY, 7, "unable to find revision 7 (revisions: 1, 2)"),
        (deployment("v3", "v2"), HISTORY[:1], None, "no ReplicaSet of the stable revision"),
    ],
)
def test_refusals(d: dict[str, Any], rs: list[dict[str, Any]], to: int | None, reason: str) -> None:
    got = plan_undo(d, rs, to_revision=to)
    assert isinstance(got, Refused)
    assert reason in got.reason


def test_a_deployment_a_cluster_policy_adopted_is_undone_like_a_labelled_one() -> None:
    d = deployment("v2", "v2", opted_in=False)
    status = json.loads(d["metadata"]["annotations"]["canarist.io/status"])
    d["metadata"]["annotations"]["canarist.io/status"] = json.dumps({**status, "policy": "shop"})
    got = plan_undo(d, HISTORY)
    assert isinstance(got, Undo) and got.revision == 1


def test_the_patch_is_guarded_by_the_version_read() -> None:
    got = plan_undo(deployment("v2", "v2"), HISTORY, skip_steps=True)
    assert isinstance(got, Undo)
    ops = got.patch("42", annotations=True)
    assert ops[0] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"}
    assert ops[1]["path"] == "/spec/template" and ops[1]["value"] == got.template
    assert ops[2] == {
        "op": "add",
        "path": "/metadata/annotations/canarist.io~1action",
        "value": "promote-full",
    }
    bare = got.patch("42", annotations=False)[2]
    assert bare == {
        "op": "add",
        "path": "/metadata/annotations",
        "value": {"canarist.io/action": "promote-full"},
    }
