"""Parsers at the API's edges: request paths, AdmissionReview responses, CR schemas, typed
decoding, and the webhook endpoint resolution (tables plus hypothesis fuzzing)."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from webhook.cluster.admission.endpoints import resolve_service
from webhook.cluster.admission.review import InvalidResponse, denial, parse_response
from webhook.cluster.http.paths import RequestInfo, parse_path
from webhook.cluster.kinds.typed import DecodeReport, decode
from webhook.cluster.schema import prune_and_default, validate
from webhook.cluster.store import Store


@pytest.mark.parametrize(("path", "want"), [
    ("/api/v1/namespaces", RequestInfo("", "v1", "namespaces")),
    ("/api/v1/namespaces/shop", RequestInfo("", "v1", "namespaces", "", "shop")),
    ("/api/v1/namespaces/shop/status", RequestInfo("", "v1", "namespaces", "", "shop", "status")),
    ("/api/v1/namespaces/shop/pods", RequestInfo("", "v1", "pods", "shop")),
    ("/api/v1/namespaces/shop/pods/p/binding",
     RequestInfo("", "v1", "pods", "shop", "p", "binding")),
    ("/apis/apps/v1/deployments", RequestInfo("apps", "v1", "deployments")),
    ("/apis/apps/v1/namespaces/shop/deployments/web/scale",
     RequestInfo("apps", "v1", "deployments", "shop", "web", "scale")),
    ("/api/v1/watch/namespaces/shop/pods",
     RequestInfo("", "v1", "pods", "shop", watch_prefix=True)),
    ("/apis/apps/v1", None),
    ("/apis", None),
    ("/version", None),
    ("/apis/apps/v1/namespaces/shop/deployments/web/scale/extra", None),
])
def test_request_paths(path: str, want: RequestInfo | None) -> None:
    assert parse_path(path) == want


@given(hs.lists(hs.sampled_from(["api", "apis", "v1", "namespaces", "x", "watch", "", "apps"]),
                max_size=8))
def test_path_parser_never_crashes(parts: list[str]) -> None:
    info = parse_path("/" + "/".join(parts))
    assert info is None or info.resource


def review(resp: Any, api: str = "admission.k8s.io/v1") -> bytes:
    return json.dumps({"apiVersion": api, "kind": "AdmissionReview", "response": resp}).encode()


def test_response_checks_as_upstream() -> None:
    patch = base64.b64encode(b'[{"op":"add","path":"/a","value":1}]').decode()
    v = parse_response(review({"uid": "u", "allowed": True, "patchType": "JSONPatch",
                               "patch": patch, "warnings": ["w"]}), "u")
    assert v.allowed and v.patch == [{"op": "add", "path": "/a", "value": 1}]
    assert v.warnings == ("w",)
    for bad, why in [
        (review({"uid": "other", "allowed": True}), 'expected response.uid="u"'),
        (review({"uid": "u", "allowed": True}, "admission.k8s.io/v1beta1"), "expected webhook"),
        (review({"uid": "u", "allowed": True, "patch": patch}), "not response.patchType"),
        (review({"uid": "u", "allowed": True, "patchType": "Merge", "patch": patch}),
         "invalid response.patchType"),
        (b"not json", "couldn't decode"),
    ]:
        with pytest.raises(InvalidResponse, match=why):
            parse_response(bad, "u")


def test_denial_message_and_code_floor() -> None:
    body = denial("hook.example.com", {"code": 200, "message": "no"})
    assert body["code"] == 400 and body["status"] == "Failure"
    assert body["message"] == 'admission webhook "hook.example.com" denied the request: no'
    assert denial("h", {})["message"] == 'admission webhook "h" denied the request without ' \
                                         "explanation"


@given(hs.binary(max_size=200))
def test_response_parser_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(InvalidResponse):
        parse_response(raw, "u")


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 0, "maximum": 10},
        "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "port": {"x-kubernetes-int-or-string": True},
        "when": {"type": "string", "format": "date-time"},
        "note": {"type": "string", "nullable": True},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    }}},
}


def test_schema_defaults_prunes_and_validates() -> None:
    obj: dict[str, Any] = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
                           "spec": {"size": 3, "extra": 1, "note": None, "free": {"any": 1}}}
    assert prune_and_default(obj, SCHEMA) == ["spec.extra"]
    assert obj["spec"] == {"size": 3, "mode": "a", "note": None, "free": {"any": 1}}
    assert validate(obj, SCHEMA) == []
    bad = {"spec": {"size": 11, "mode": "c", "port": 1.5, "when": "yesterday",
                    "tags": ["x", "y", "z"]}}
    fields = {c.field for c in validate(bad, SCHEMA)}
    assert fields == {"spec.size", "spec.mode", "spec.port", "spec.when", "spec.tags"}
    assert {c.field for c in validate({"spec": {}}, SCHEMA)} == {"spec.size"}


_json = hs.recursive(
    hs.none() | hs.booleans() | hs.integers() | hs.floats(allow_nan=False) | hs.text(max_size=5),
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(
        hs.sampled_from(["spec", "size", "mode", "port", "tags", "free", "x"]), inner,
        max_size=4),
    max_leaves=12,
)


@given(_json)
def test_schema_handling_never_crashes(value: Any) -> None:
    obj = {"spec": value}
    prune_and_default(obj, SCHEMA)
    for cause in validate(obj, SCHEMA):
        assert cause.field.startswith("spec") and cause.message


@settings(deadline=None)  # the first example imports the client's models
@given(_json)
def test_typed_decoding_never_crashes(value: Any) -> None:
    report = DecodeReport()
    decode({"spec": value, "metadata": {"name": "x"}}, "V1Deployment", prune=True,
           report=report)
    assert all(e.startswith("json: cannot unmarshal") for e in report.type_errors)


def test_webhook_service_resolves_through_ready_pods_before_slices_exist() -> None:
    store = Store()
    store.put("services", {"metadata": {"name": "hook", "namespace": "ns"}, "spec": {
        "selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": "https"}]}})
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "hook"}},
           "spec": {"containers": [{"name": "c", "ports": [{"name": "https",
                                                             "containerPort": 8443}]}]},
           "status": {"podIP": "127.0.0.9", "conditions": [{"type": "Ready",
                                                             "status": "False"}]}}
    store.put("pods", pod)
    assert resolve_service(store, "ns", "hook", 443) is None  # not ready yet
    pod = json.loads(json.dumps(pod))
    pod["status"]["conditions"][0]["status"] = "True"
    store.put("pods", pod)
    assert resolve_service(store, "ns", "hook", 443) == ("127.0.0.9", 8443)
    assert resolve_service(store, "ns", "hook", 80) is None  # no such Service port
    store.put("endpointslices.discovery.k8s.io", {
        "metadata": {"name": "hook-x", "namespace": "ns",
                     "labels": {"kubernetes.io/service-name": "hook"}},
        "endpoints": [{"addresses": ["127.0.0.7"], "conditions": {"ready": True}}],
        "ports": [{"name": "", "port": 9443}]})
    assert resolve_service(store, "ns", "hook", 443) == ("127.0.0.7", 9443)  # slices win
