"""Table tests of the mutation rules and of AdmissionReview parsing errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.admission.builders import deployment, hash_of, review, with_image
from tests.admission.cases import D1, H1, H2, IN_RELEASE, R1, S1, _set_status, _stamped
from webhook.admission import Outcome, decode_patch, parse_review
from webhook.admission import review as admit
from webhook.admission.patch import escape, pointer, set_nested
from webhook.errors import BadReview
from webhook.spec.names import HASH_LABEL, STATUS


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = admit(json.dumps(request)).response.to_dict()
    return response


def _apply(request: dict[str, Any]) -> dict[str, Any]:
    response = _answer(request)
    result: dict[str, Any] = jsonpatch.apply_patch(
        copy.deepcopy(request["request"]["object"]), decode_patch(response)
    )
    return result


# --- JSON Pointer and patch building -----------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "escaped"),
    [
        ("canarist.io/status", "canarist.io~1status"),
        ("a~b", "a~0b"),
        ("~/", "~0~1"),
        ("/~1", "~1~01"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_escape(token: str, escaped: str) -> None:
    assert escape(token) == escaped
    # jsonpointer agrees: the pointer resolves to the key we meant
    doc = {token: 1}
    assert jsonpatch.JsonPointer(pointer(token)).resolve(doc) == 1


@pytest.mark.parametrize(
    ("root", "ops"),
    [
        ({"metadata": {"labels": {"a": "b"}}}, [("add", "/metadata/labels/k~1x", "v")]),
        ({"metadata": {}}, [("add", "/metadata/labels", {"k/x": "v"})]),
        ({"metadata": {"labels": None}}, [("add", "/metadata/labels", {"k/x": "v"})]),
        ({}, [("add", "/metadata", {"labels": {"k/x": "v"}})]),
    ],
)
def test_set_nested_adds_the_first_missing_map(root: dict[str, Any], ops: list[Any]) -> None:
    out: list[dict[str, Any]] = []
    set_nested(out, root, ("metadata", "labels"), "k/x", "v")
    assert [(o["op"], o["path"], o["value"]) for o in out] == ops
    assert jsonpatch.apply_patch(root, out)["metadata"]["labels"]["k/x"] == "v"


# --- rules beyond the golden cases -------------------------------------------------------------


def test_user_edit_of_the_hash_label_is_undone() -> None:
    edited = _stamped(S1, "bbbbbbbbbb")
    result = _apply(review("UPDATE", edited, S1))
    assert result["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == H1


def test_only_apps_v1_deployments_are_mutated() -> None:
    for kind, resource in [
        (("apps", "v1beta2", "Deployment"), "deployments"),
        (("extensions", "v1", "Deployment"), "deployments"),
        (("apps", "v1", "StatefulSet"), "statefulsets"),
        (("apps", "v1", "Deployment"), "replicasets"),
    ]:
        response = _answer(review("CREATE", D1, kind=kind, resource=resource))["response"]
        assert response == {"uid": response["uid"], "allowed": True}


def test_garbled_status_reads_as_none() -> None:
    garbled = copy.deepcopy(S1)
    garbled["metadata"]["annotations"][STATUS] = "{not json"
    result = _apply(review("UPDATE", with_image(garbled, "x:2"), garbled))
    status = json.loads(result["metadata"]["annotations"][STATUS])
    assert status["stableHash"] == H1  # from the old template, as with no status
    assert status["canaryHash"] == hash_of(with_image(D1, "x:2"))


def test_status_written_alongside_user_status_drop_wins_over_restore() -> None:
    dropped = _set_status(with_image(R1, "x:3"), None)
    result = _apply(review("UPDATE", dropped, R1))
    status = json.loads(result["metadata"]["annotations"][STATUS])
    # judged by the restored status: still released against the stable H1, weight kept
    assert (status["stableHash"], status["weight"], status["step"]) == (H1, 10, 0)


def test_namespace_falls_back_to_metadata_then_default() -> None:
    obj = with_image(S1, "x:2")
    request = review("UPDATE", obj, S1, namespace="")
    warnings = _answer(request)["response"]["warnings"]
    assert any("shop/web" in w and "-n shop" in w for w in warnings)
    del obj["metadata"]["namespace"]
    warnings = _answer(review("UPDATE", obj, S1, namespace=""))["response"]["warnings"]
    assert any("default/web" in w for w in warnings)


def test_spec_is_parsed_per_deployment_name() -> None:
    bad = {"canarist.io/steps": "- setWeight: 150\n"}
    a = _answer(review("CREATE", deployment(name="a", annotations=bad)))["response"]
    b = _answer(review("CREATE", deployment(name="b", annotations=bad)))["response"]
    assert a["status"]["message"].startswith("Deployment a:")
    assert b["status"]["message"].startswith("Deployment b:")


def test_non_string_annotation_is_denied_not_cached() -> None:
    obj = deployment(annotations={"canarist.io/steps": 5})  # type: ignore[dict-item]
    response = _answer(review("CREATE", obj))["response"]
    assert response["allowed"] is False
    assert "must be strings" in response["status"]["message"]


@pytest.mark.parametrize(
    ("phase", "paused", "repaused"),
    [
        ("Paused", False, True),
        ("Progressing", None, True),  # paused absent means false
        ("Degraded", False, True),  # aborted: stays on the old pods
        ("Promoting", False, False),
        ("Paused", True, False),
    ],
)
def test_unpause_mid_release(phase: str, paused: bool | None, repaused: bool) -> None:
    new = _set_status(copy.deepcopy(R1), {**IN_RELEASE, "phase": phase})
    if paused is None:
        del new["spec"]["paused"]
    else:
        new["spec"]["paused"] = paused
    decision = admit(json.dumps(review("UPDATE", new, R1)))
    ops = decision.response.patch
    assert (list(ops) == [{"op": "add", "path": "/spec/paused", "value": True}]) is repaused
    assert decision.outcome == (Outcome.MUTATED if repaused else Outcome.ALLOWED)


def test_release_finished_allows_unpause() -> None:
    done = _set_status(copy.deepcopy(R1), {**IN_RELEASE, "stableHash": H2, "phase": "Healthy"})
    done["spec"]["paused"] = False
    assert admit(json.dumps(review("UPDATE", done, R1))).response.patch == ()


# --- bad reviews -------------------------------------------------------------------------------

GOOD = review("UPDATE", with_image(S1, "x:2"), S1)


def _mangled(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(GOOD)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()

BAD: list[tuple[bytes | dict[str, Any], str]] = [
    (b"", "body is not JSON: Expecting value at line 1, column 1"),
    (b"{", "body is not JSON"),
    (b"\xff\xfe", "body is not UTF-8 JSON"),
    (b"[1, 2]", "body must be a JSON object (an AdmissionReview), got array"),
    (b"null", "got null"),
    (b"[" * 100000, "body is not JSON"),
    (_mangled(("apiVersion",), "admission.k8s.io/v1beta1"), 'apiVersion: must be "admission'),
    (_mangled(("apiVersion",), _DELETE), "apiVersion: must be"),
    (_mangled(("kind",), "Review"), 'kind: must be "AdmissionReview", got "Review"'),
    (_mangled(("request",), _DELETE), "request: must be an object, missing"),
    (_mangled(("request",), []), "request: must be an object, got array"),
    (_mangled(("request", "uid"), _DELETE), "request.uid: must be a non-empty string, missing"),
    (_mangled(("request", "uid"), ""), "request.uid: must be a non-empty string"),
    (_mangled(("request", "uid"), 7), "request.uid: must be a non-empty string, got number 7"),
    (_mangled(("request", "operation"), "PATCH"), "request.operation: must be one of CREATE"),
    (_mangled(("request", "object"), "x"), "request.object: must be an object or null, got str"),
    (_mangled(("request", "object"), None), "request.object: is required for UPDATE"),
    (_mangled(("request", "oldObject"), _DELETE), "request.oldObject: is required for UPDATE"),
    (_mangled(("request", "oldObject"), [1]), "request.oldObject: must be an object or null"),
    (_mangled(("request", "kind"), "Deployment"), "request.kind: must be an object with group"),
    (_mangled(("request", "kind", "kind"), 3), "request.kind.kind: must be a string, got number"),
    (_mangled(("request", "resource"), _DELETE), "request.resource: must be an object"),
    (_mangled(("request", "subResource"), 1), "request.subResource: must be a string"),
    (_mangled(("request", "dryRun"), "yes"), "request.dryRun: must be true or false, got string"),
    (
        _mangled(("request", "object", "metadata"), "m"),
        "request.object.metadata: must be an object or null, got string",
    ),
    (
        _mangled(("request", "object", "metadata", "labels"), ["a"]),
        "request.object.metadata.labels: must be an object or null, got array",
    ),
    (
        _mangled(("request", "object", "metadata", "annotations"), 1),
        "request.object.metadata.annotations: must be an object or null",
    ),
    (
        _mangled(("request", "object", "spec", "template"), "t"),
        "request.object.spec.template: must be an object or null, got string",
    ),
    (
        _mangled(("request", "oldObject", "metadata", "labels"), 1),
        "request.oldObject.metadata.labels: must be an object or null",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=range(len(BAD)))
def test_bad_review_names_the_problem(body: bytes | dict[str, Any], message: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(BadReview) as info:
        admit(raw)
    text = str(info.value)
    assert text.startswith("bad AdmissionReview: ")
    assert message in text, text
    assert "\n" not in text  # one line: the CLI and the HTTP 400 show it as is


def test_omitempty_fields_may_be_missing() -> None:
    request = copy.deepcopy(GOOD)
    for key in ("subResource", "name", "namespace", "dryRun", "options", "userInfo"):
        request["request"].pop(key, None)
    parsed = parse_review(json.dumps(request))
    assert (parsed.sub_resource, parsed.name, parsed.namespace, parsed.dry_run) == (
        "",
        "",
        "",
        False,
    )
    assert admit(json.dumps(request)).outcome == Outcome.MUTATED
