"""Protobuf request bodies -> the JSON form of the object, as kube-apiserver would read them
(client-go's generated Marshal writes every non-pointer field, zero or not; encoding/json then
leaves out the omitempty zeros, keeps pointer zeros and prints the apimachinery types in their
JSON shapes)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from tests.cluster.protobuf_encode import encode, key, ld, message, unknown, varint
from webhook.cluster.protobuf import decode_object
from webhook.errors import WireFormatError

CORE = "k8s.io.api.core.v1."
APPS = "k8s.io.api.apps.v1."
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
ZERO_TIME: dict[str, Any] = {"seconds": 0, "nanos": 0}


def meta(name: str, **extra: Any) -> dict[str, Any]:
    """ObjectMeta as Go's encoder writes it: every string and number, even empty."""
    return {"name": name, "generateName": "", "namespace": "", "selfLink": "", "uid": "",
            "resourceVersion": "", "generation": 0, "creationTimestamp": ZERO_TIME, **extra}


def body(api_version: str, kind: str, name: str, obj: dict[str, Any]) -> bytes:
    return unknown(api_version, kind, message(name, obj))


CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "a Deployment scaled to 0 keeps replicas: 0 (a pointer), loses the written zeros",
        body("apps/v1", "Deployment", APPS + "Deployment", {
            "metadata": meta("web", labels={"app": "web"}),
            "spec": {"replicas": 0, "minReadySeconds": 0, "paused": False,
                     "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                         "maxSurge": "25%", "maxUnavailable": 0}},
                     "template": {"metadata": meta(""), "spec": {"containers": [{
                         "name": "app", "image": "demo:v1", "stdin": False,
                         "ports": [{"containerPort": 8080, "hostPort": 0}],
                         "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}}},
            "status": {"replicas": 0}}),
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                      "maxSurge": "25%", "maxUnavailable": 0}},
                  "template": {"metadata": {}, "spec": {"containers": [{
                      "name": "app", "image": "demo:v1",
                      "ports": [{"containerPort": 8080}],
                      "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}}},
         "status": {}},
    ),
    (
        "Secret data is bytes (base64 in JSON); immutable: false is a pointer and stays",
        body("v1", "Secret", CORE + "Secret", {
            "metadata": meta("s"), "data": {"bin": "AP8Q", "p": "c2VjcmV0"},
            "stringData": {"s": "text"}, "type": "Opaque", "immutable": False}),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
         "data": {"bin": "AP8Q", "p": "c2VjcmV0"}, "stringData": {"s": "text"},
         "type": "Opaque", "immutable": False},
    ),
    (
        "Time is RFC 3339 to the second, MicroTime to the microsecond",
        body("v1", "Event", CORE + "Event", {
            "metadata": meta("e", creationTimestamp={"seconds": 1795251600, "nanos": 5}),
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started",
            "firstTimestamp": {"seconds": 1795251600, "nanos": 0},
            "eventTime": {"seconds": 1795251600, "nanos": 123456789}, "count": 1}),
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "e", "creationTimestamp": "2026-11-21T09:00:00Z"},
         "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started",
         "firstTimestamp": "2026-11-21T09:00:00Z", "eventTime": "2026-11-21T09:00:00.123456Z",
         "count": 1},
    ),
    (
        "an endpoint that is not ready says so: conditions are pointers",
        body("discovery.k8s.io/v1", "EndpointSlice", "k8s.io.api.discovery.v1.EndpointSlice", {
            "metadata": meta("web-1"), "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.5"], "conditions": {
                "ready": False, "serving": True, "terminating": False}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-1"}, "addressType": "IPv4",
         "endpoints": [{"addresses": ["127.0.0.5"], "conditions": {
             "ready": False, "serving": True, "terminating": False}}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
    ),
    (
        "DeleteOptions under any group version; gracePeriodSeconds: 0 means now",
        body("apps/v1", "DeleteOptions", META + "DeleteOptions", {
            "gracePeriodSeconds": 0, "propagationPolicy": "Foreground",
            "orphanDependents": False, "dryRun": ["All"]}),
        {"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
         "propagationPolicy": "Foreground", "orphanDependents": False, "dryRun": ["All"]},
    ),
    (
        "runAsUser: 0 (root) is kept; packed repeated integers are read",
        unknown("v1", "Pod", message(CORE + "Pod", {
            "metadata": meta("p"),
            "spec": {"containers": [{"name": "c", "image": "i"}],
                     "securityContext": {"runAsUser": 0}}})
            + ld(2, ld(14, ld(4, varint(1000) + varint(2000))))),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
         "spec": {"containers": [{"name": "c", "image": "i"}],
                  "securityContext": {"runAsUser": 0, "supplementalGroups": [1000, 2000]}}},
    ),
    (
        "a negative int32 is a ten-byte varint",
        body("v1", "Service", CORE + "Service", {
            "metadata": meta("svc"), "spec": {"ports": [{"port": 80, "nodePort": -1}]}}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
         "spec": {"ports": [{"port": 80, "nodePort": -1}]}},
    ),
    (
        "MutatingWebhookConfiguration's field is Webhooks in protobuf, webhooks in JSON",
        body("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
             "k8s.io.api.admissionregistration.v1.MutatingWebhookConfiguration", {
                 "metadata": meta("hook"), "webhooks": [{
                     "name": "a.example.com", "timeoutSeconds": 5,
                     "clientConfig": {"url": "https://127.0.0.1:1/m"}}]}),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "hook"}, "webhooks": [{
             "name": "a.example.com", "timeoutSeconds": 5,
             "clientConfig": {"url": "https://127.0.0.1:1/m"}}]},
    ),
    (
        "managedFields carry their fieldsV1 as raw JSON",
        body("v1", "ConfigMap", CORE + "ConfigMap", {
            "metadata": meta("cm", managedFields=[{
                "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
                "fieldsV1": {"Raw": "eyJmOmRhdGEiOnt9fQ=="}}]),
            "data": {"a": "1"}}),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "managedFields": [{
            "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {}}}]}, "data": {"a": "1"}},
    ),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decodes_to_the_json_form(raw: bytes, expected: dict[str, Any]) -> None:
    assert decode_object(raw) == expected


def cm_body() -> bytes:
    return encode({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})


BAD: list[tuple[str, bytes, str]] = [
    ("no magic", b'{"kind":"ConfigMap"}', "starts with the bytes 'k8s\\x00'"),
    ("truncated varint", b"k8s\x00" + ld(1, b"") + b"\x12\x80", "truncated varint at byte"),
    ("a length past the end", b"k8s\x00" + key(2, 2) + varint(50) + b"abc",
     "claims 50 bytes, 3 remain"),
    ("a group", b"k8s\x00" + key(2, 3), "wire type 3"),
    ("no type", b"k8s\x00" + ld(2, b""), "names no apiVersion and kind"),
    ("a kind not served", unknown("v1", "Node", b""), "v1/Node cannot be sent as protobuf"),
    ("compressed", unknown("v1", "ConfigMap", b"", encoding="gzip"),
     'contentEncoding: "gzip" is not supported'),
    ("a field the schema lacks", unknown("v1", "ConfigMap", ld(99, b"x")),
     "ConfigMap: field number 99 of ConfigMap is not in this cluster's schema"),
    ("a string that is not UTF-8", unknown("v1", "ConfigMap", ld(1, ld(1, b"\xff\xfe"))),
     "ConfigMap.metadata.name: a string field is not valid UTF-8"),
    ("a string sent as a number", unknown("v1", "ConfigMap", ld(1, key(1, 0) + varint(5))),
     "ConfigMap.metadata.name: a string field arrived as a number"),
    ("a message sent as a number", unknown("v1", "ConfigMap", key(1, 0) + varint(1)),
     "ConfigMap.metadata: a message field arrived as a number"),
    ("field number zero", b"k8s\x00" + b"\x02\x00", "invalid field number 0"),
    ("a Time past year 9999", body("v1", "ConfigMap", CORE + "ConfigMap", {"metadata": meta(
        "c", creationTimestamp={"seconds": 1 << 62})}),
     "ConfigMap.metadata.creationTimestamp: 4611686018427387904 seconds since 1970 is outside"),
    ("a Time before year 1", body("v1", "ConfigMap", CORE + "ConfigMap", {"metadata": meta(
        "c", creationTimestamp={"seconds": -62135596801})}), "is outside the years 1 to 9999"),
    ("a Time with negative nanos", body("v1", "ConfigMap", CORE + "ConfigMap", {"metadata": meta(
        "c", creationTimestamp={"seconds": 5, "nanos": -7})}), "nanos -7 is outside"),
]


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_bodies_say_what_and_where(raw: bytes, message: str) -> None:
    with pytest.raises(WireFormatError) as err:
        decode_object(raw)
    assert message in str(err.value)


_text = hs.text(hs.characters(exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=200, deadline=None)
@given(name=hs.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
       labels=hs.dictionaries(_text.filter(bool), _text, max_size=4),
       data=hs.dictionaries(_text.filter(bool), hs.binary(max_size=30), max_size=4),
       immutable=hs.none() | hs.booleans())
def test_round_trip_of_secrets(name: str, labels: dict[str, str], data: dict[str, bytes],
                               immutable: bool | None) -> None:
    import base64
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if labels:
        obj["metadata"]["labels"] = labels
    if data:
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    if immutable is not None:
        obj["immutable"] = immutable
    assert decode_object(encode(obj)) == obj


@settings(max_examples=300, deadline=None)
@given(junk=hs.binary(max_size=200))
def test_any_bytes_decode_or_fail_cleanly(junk: bytes) -> None:
    for raw in (b"k8s\x00" + junk, unknown("v1", "Pod", junk), unknown("apps/v1", "Deployment",
                                                                        junk)):
        with contextlib.suppress(WireFormatError):
            assert isinstance(decode_object(raw), dict)


@settings(max_examples=200, deadline=None)
@given(cut=hs.integers(0, 400), flip=hs.integers(0, 400), bit=hs.integers(0, 7))
def test_damaged_real_bodies_decode_or_fail_cleanly(cut: int, flip: int, bit: int) -> None:
    raw = bytearray(CASES[0][1])
    raw[flip % len(raw)] ^= 1 << bit
    for candidate in (bytes(raw), CASES[0][1][:cut]):
        with contextlib.suppress(WireFormatError):
            decode_object(candidate)


@settings(max_examples=300, deadline=None)
@given(seconds=hs.integers(-(1 << 63), (1 << 63) - 1), nanos=hs.integers(-(1 << 31), (1 << 31) - 1))
def test_any_time_decodes_or_fails_cleanly(seconds: int, nanos: int) -> None:
    raw = body("v1", "Event", CORE + "Event", {"metadata": meta("e"), "eventTime": {
        "seconds": seconds, "nanos": nanos}, "lastTimestamp": {"seconds": seconds}})
    try:
        event = decode_object(raw)
    except WireFormatError as err:
        assert "is outside" in str(err)
        return
    if seconds or nanos:
        assert len(event["eventTime"]) == len("2026-11-21T09:00:00.123456Z")


def test_the_first_and_last_second_rfc3339_can_print() -> None:
    first, last = -62135596800, 253402300799
    raw = body("v1", "Event", CORE + "Event", {"metadata": meta("e"), "firstTimestamp": {
        "seconds": first}, "lastTimestamp": {"seconds": last}})
    event = decode_object(raw)
    assert (event["firstTimestamp"], event["lastTimestamp"]) == ("0001-01-01T00:00:00Z",
                                                                 "9999-12-31T23:59:59Z")
