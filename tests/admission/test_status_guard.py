"""canarist.io/status is canarist's alone: only the trusted writer (the reconciler) changes it."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from tests.admission.builders import deployment, hash_of, review, with_image
from webhook.admission import decode_patch
from webhook.admission.mutate import review as decide_review
from webhook.spec.names import HASH_LABEL, STATUS

RECONCILER = "system:serviceaccount:canarist:canarist-reconciler"
TRUSTED = frozenset({RECONCILER})
IMAGE_V2 = "registry.example.com/shop/web:1.5.0"


def released(image: str = "registry.example.com/shop/web:1.4.2") -> dict[str, Any]:
    """An opted-in Deployment at rest after a release: hash stamped, status Healthy."""
    obj = deployment(image=image)
    digest = hash_of(obj)
    obj["spec"]["template"]["metadata"]["labels"][HASH_LABEL] = digest
    status = {"phase": "Healthy", "stableHash": digest, "canaryHash": digest, "step": 0,
              "steps": 5, "weight": 0}
    obj["metadata"]["annotations"][STATUS] = json.dumps(status, separators=(",", ":"))
    return obj


def by(user: str, body: dict[str, Any]) -> dict[str, Any]:
    body["request"]["userInfo"] = {"username": user, "groups": ["system:authenticated"]}
    return body


def applied(body: dict[str, Any], trusted: frozenset[str] | None = TRUSTED) -> tuple[
    dict[str, Any], dict[str, Any]
]:
    """The object as the API server stores it after the webhook's patch, and the response."""
    response = decide_review(body, trusted=trusted).response.to_dict()
    obj = copy.deepcopy(body["request"]["object"])
    ops = decode_patch(response)
    return (jsonpatch.apply_patch(obj, ops) if ops else obj), response["response"]


def status_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    text = obj["metadata"].get("annotations", {}).get(STATUS)
    return None if text is None else json.loads(text)


def test_a_forged_stable_hash_is_undone_and_the_change_is_still_held() -> None:
    old = released()
    new = with_image(old, IMAGE_V2)
    forged = {**status_of(old), "stableHash": hash_of(new), "canaryHash": hash_of(new)}  # type: ignore[dict-item]
    new["metadata"]["annotations"][STATUS] = json.dumps(forged)
    stored, _response = applied(by("mallory", review("UPDATE", new, old)))
    assert stored["spec"]["paused"] is True  # the canary is not skipped
    status = status_of(stored)
    assert status is not None
    assert status["stableHash"] == hash_of(old) and status["phase"] == "Progressing"
    # the webhook's own hold status is written, from the old status; no forgery survives
    assert status["canaryHash"] != status["stableHash"]


def test_an_untrusted_writer_cannot_unpause_by_writing_phase_promoting() -> None:
    old = released()
    old_status = {**status_of(old), "phase": "Paused", "canaryHash": "x" * 10}  # type: ignore[dict-item]
    old["metadata"]["annotations"][STATUS] = json.dumps(old_status)
    old["spec"]["paused"] = True
    new = copy.deepcopy(old)
    new["spec"]["paused"] = False
    new["metadata"]["annotations"][STATUS] = json.dumps({**old_status, "phase": "Promoting"})
    stored, response = applied(by("mallory", review("UPDATE", new, old)))
    assert stored["spec"]["paused"] is True
    assert status_of(stored) == old_status
    assert any("written by canarist only; the change by mallory was undone" in w
               for w in response["warnings"])


def test_an_exported_manifest_applied_mid_release_keeps_the_current_status() -> None:
    current = released()
    stale = copy.deepcopy(current)
    mid = {**status_of(current), "phase": "Paused", "step": 2, "weight": 50,  # type: ignore[dict-item]
           "canaryHash": "bcdfghjklm"}
    current["metadata"]["annotations"][STATUS] = json.dumps(mid)
    current["spec"]["paused"] = True
    stale["spec"]["paused"] = True  # same template, the status of the export is older
    stored, response = applied(by("alice", review("UPDATE", stale, current)))
    assert status_of(stored) == mid
    assert len(response["warnings"]) == 1


def test_the_reconciler_changes_the_status() -> None:
    old = released()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][STATUS] = json.dumps({**status_of(old), "message": "x"})  # type: ignore[dict-item]
    stored, response = applied(by(RECONCILER, review("UPDATE", new, old)))
    assert status_of(stored)["message"] == "x"  # type: ignore[index]
    assert "patch" not in response


def test_without_trusted_users_anyone_changes_the_status() -> None:
    old = released()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][STATUS] = json.dumps({**status_of(old), "message": "x"})  # type: ignore[dict-item]
    stored, _ = applied(by("alice", review("UPDATE", new, old)), trusted=None)
    assert status_of(stored)["message"] == "x"  # type: ignore[index]


def test_a_create_with_a_status_drops_it_for_untrusted_writers() -> None:
    obj = released()
    stored, response = applied(by("alice", review("CREATE", obj)))
    assert status_of(stored) is None
    assert any("undone" in w for w in response["warnings"])


def test_dropping_the_status_gets_it_back_silently() -> None:
    old = released()
    new = copy.deepcopy(old)
    del new["metadata"]["annotations"][STATUS]
    stored, response = applied(by("alice", review("UPDATE", new, old)))
    assert status_of(stored) == status_of(old)
    assert not response.get("warnings")


def status_write(user: str, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    return by(user, review("UPDATE", new, old, sub_resource="status"))


def test_the_status_subresource_is_guarded_too() -> None:
    old = released()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][STATUS] = json.dumps({"phase": "Healthy",
                                                          "stableHash": "forged0000"})
    stored, response = applied(status_write("mallory", new, old))
    assert status_of(stored) == status_of(old)
    assert response["allowed"] and len(response["warnings"]) == 1
    stored, response = applied(status_write(RECONCILER, new, old))
    assert status_of(stored) == {"phase": "Healthy", "stableHash": "forged0000"}
    assert "warnings" not in response


def test_annotations_changed_through_the_status_subresource_are_validated() -> None:
    old = released()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["canarist.io/steps"] = "- setWeight: 150\n"
    _, response = applied(status_write(RECONCILER, new, old))
    assert not response["allowed"]
    assert "canarist.io/steps[0].setWeight: must be between 0 and 100" in (
        response["status"]["message"])


def test_the_deployment_controllers_status_writes_pass_unchanged() -> None:
    old = released()
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 4, "readyReplicas": 4}
    _stored, response = applied(
        status_write("system:serviceaccount:kube-system:deployment-controller", new, old))
    assert response["allowed"] and "patch" not in response and "warnings" not in response
