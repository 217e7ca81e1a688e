"""Golden AdmissionReview pairs: exact responses, and the patched objects obey DESIGN §2."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.admission.cases import CASES, UNSET, Case
from tests.admission.make_golden import GOLDEN
from webhook.admission import decode_patch, review
from webhook.spec.names import HASH_LABEL, STATUS

STEMS = sorted(p.name.removesuffix(".request.json") for p in GOLDEN.glob("*.request.json"))
BY_NAME = {case.name: case for case in CASES}


def _load(stem: str, kind: str) -> Any:
    return json.loads((GOLDEN / f"{stem}.{kind}.json").read_text())


def test_every_case_has_golden_files() -> None:
    assert [s.split("-", 1)[1] for s in STEMS] == [c.name for c in CASES]


@pytest.mark.parametrize("stem", STEMS)
def test_response_matches_golden(stem: str) -> None:
    body = (GOLDEN / f"{stem}.request.json").read_bytes()
    response = review(body).response.to_dict()
    assert response == _load(stem, "response")
    assert decode_patch(response) == _load(stem, "patch")


@pytest.mark.parametrize("stem", STEMS)
def test_envelope_echoes_uid_and_patch_type(stem: str) -> None:
    request = _load(stem, "request")
    response = _load(stem, "response")
    assert response["apiVersion"] == "admission.k8s.io/v1"
    assert response["kind"] == "AdmissionReview"
    assert response["response"]["uid"] == request["request"]["uid"]
    has_patch = "patch" in response["response"]
    assert has_patch == ("patchType" in response["response"])
    if has_patch:
        assert response["response"]["patchType"] == "JSONPatch"
        assert decode_patch(response), "an empty patch must be left out"


def _patched(case: Case) -> tuple[dict[str, Any], Any, Any]:
    request = case.request["request"]
    response = review(json.dumps(case.request)).response.to_dict()["response"]
    obj = request["object"]
    ops = decode_patch({"response": response})
    # What the API server does: apply the patch to the object it sent.
    result = jsonpatch.apply_patch(copy.deepcopy(obj), ops) if obj is not None else None
    return response, obj, result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_patched_object_obeys_the_rules(case: Case) -> None:
    response, original, result = _patched(case)
    want = case.expect
    assert response["allowed"] is want.allowed
    assert ("patch" in response) is want.patched
    if not want.patched:
        assert result == original
    if want.denied:
        assert response["status"]["code"] == 422
        assert response["status"]["reason"] == "Invalid"
        for part in want.denied:
            assert part in response["status"]["message"]
    else:
        assert "status" not in response
    if want.warning:
        assert any(want.warning in w for w in response.get("warnings", [])), response
    if want.label is not UNSET:
        labels = result["spec"]["template"].get("metadata", {}).get("labels", {})
        assert labels.get(HASH_LABEL) == want.label
    if want.paused is not UNSET:
        assert result["spec"].get("paused") == want.paused
    if want.status is not None or want.status_absent:
        status = json.loads(result["metadata"]["annotations"][STATUS])
        assert {k: status.get(k) for k in want.status or {}} == (want.status or {})
        for key in want.status_absent:
            assert key not in status


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reinvocation_is_idempotent(case: Case) -> None:
    """reinvocationPolicy IfNeeded: the patched object, reviewed again, needs no more patching."""
    response, _, result = _patched(case)
    request = case.request["request"]
    if "patch" not in response or request["operation"] != "UPDATE":
        if "patch" in response:  # CREATE: a second look at the stamped object changes nothing
            again = copy.deepcopy(case.request)
            again["request"]["object"] = result
            assert "patch" not in review(json.dumps(again)).response.to_dict()["response"]
        return
    again = copy.deepcopy(case.request)
    again["request"]["object"] = result
    second = review(json.dumps(again)).response.to_dict()["response"]
    assert "patch" not in second, decode_patch({"response": second})


def test_golden_update_review_is_realistic_size() -> None:
    body = json.dumps(_load("22-update-new-canary", "request"), separators=(",", ":"))
    assert 3500 < len(body) < 6000
