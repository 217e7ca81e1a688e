"""Pure pieces as tables and properties: error mapping, backoff, the token bucket, REST paths,
discovery parsing, the watch line splitter and event parser (fuzzed), informer diffs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.errors import (
    Conflict,
    Expired,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    Problem,
    Unavailable,
)
from webhook.kube.informer import diff, strip_noise
from webhook.kube.limits import Backoff, TokenBucket
from webhook.kube.resources import Resolver, Resource, builtin, kinds_in
from webhook.kube.statuses import error_for, parse_status, retry_after
from webhook.kube.watch import LineSplitter, WatchEvent, parse_event


def status(code: int, reason: str, message: str, **details: Any) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "code": code, "reason": reason, "message": message,
                       "details": details}).encode()


@pytest.mark.parametrize(("code", "cls"), [
    (400, Invalid), (401, Forbidden), (403, Forbidden), (404, NotFound), (405, Invalid),
    (409, Conflict), (410, Expired), (413, Invalid), (415, Invalid), (422, Invalid),
    (429, Unavailable), (500, Unavailable), (502, Unavailable), (503, Unavailable),
    (504, Unavailable), (599, Unavailable), (418, KubeError),
])
def test_error_classes(code: int, cls: type[KubeError]) -> None:
    err = error_for(code, status(code, "R", "the message"), asked="GET /x")
    assert type(err) is cls
    assert (err.status, err.reason, str(err)) == (code, "R", "the message")


def test_invalid_keeps_causes() -> None:
    body = status(422, "Invalid", 'Deployment.apps "w" is invalid',
                  causes=[{"reason": "FieldValueInvalid", "message": "must be >= 0",
                           "field": "spec.replicas"}, {"message": "no field"}, "junk"])
    err = error_for(422, body, asked="POST /x")
    assert isinstance(err, Invalid)
    assert err.causes == (Problem("spec.replicas", "must be >= 0"), Problem("", "no field"))


@pytest.mark.parametrize("body", [b"", b"<html>", b"[]", b'{"kind": "Pod"}', b"\xff\xfe",
                                  b'{"kind": "Status", "message": 5}'])
def test_bodies_that_are_not_status_fall_back(body: bytes) -> None:
    err = error_for(503, body, asked="GET /api/v1/pods")
    assert isinstance(err, Unavailable)
    assert str(err).startswith("HTTP 503 from the API server for GET /api/v1/pods")


@given(st.binary(max_size=300))
def test_parse_status_never_raises(body: bytes) -> None:
    parse_status(body)
    error_for(500, body, asked="GET /")


@pytest.mark.parametrize(("header", "body", "expected"), [
    ("2", b"", 2.0), ("0.5", b"", 0.5), ("soon", b"", None), (None, b"", None),
    (None, status(504, "Timeout", "t", retryAfterSeconds=3), 3.0),
    ("1", status(504, "Timeout", "t", retryAfterSeconds=3), 1.0),
    ("0", b"", None),
])
def test_retry_after(header: str | None, body: bytes, expected: float | None) -> None:
    assert retry_after(header, body) == expected


@pytest.mark.parametrize(("retry", "rand", "hint", "expected"), [
    (0, 0.0, None, 0.05), (0, 1.0, None, 0.1), (1, 0.0, None, 0.1), (3, 1.0, None, 0.8),
    (10, 1.0, None, 5.0), (10, 0.0, None, 2.5), (0, 0.0, 2.0, 2.0), (0, 0.0, 99.0, 30.0),
    (5, 1.0, 0.01, 3.2),
])
def test_backoff(retry: int, rand: float, hint: float | None, expected: float) -> None:
    b = Backoff()
    assert b.delay(retry, server_hint=hint, rand=lambda: rand) == pytest.approx(expected)


@given(st.integers(0, 50), st.floats(0, 1))
def test_backoff_is_bounded_and_positive(retry: int, r: float) -> None:
    d = Backoff().delay(retry, rand=lambda: r)
    assert 0.05 <= d <= 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [round(bucket.reserve(), 3) for _ in range(3)] == [0.1, 0.2, 0.3]
    clock.now = 1.0  # the borrowed tokens are repaid first
    assert bucket.reserve() == 0.0
    assert TokenBucket(0, 0, clock=clock).reserve() == 0.0  # unlimited


@settings(max_examples=50)
@given(st.floats(1, 100), st.integers(1, 20),
       st.lists(st.floats(0, 2), min_size=1, max_size=60))
def test_token_bucket_never_exceeds_burst_plus_rate(qps: float, burst: int,
                                                     gaps: list[float]) -> None:
    clock = Clock()
    bucket = TokenBucket(qps, burst, clock=clock)
    starts = []
    for gap in gaps:
        clock.now += gap
        starts.append(clock.now + bucket.reserve())
    starts.sort()
    for i, s in enumerate(starts):
        assert i + 1 <= burst + (s - starts[0]) * qps + 1e-6


def test_token_bucket_refuses_no_burst() -> None:
    with pytest.raises(ValueError, match="burst must be at least 1"):
        TokenBucket(5, 0)


@pytest.mark.parametrize(("api_version", "kind", "ns", "name", "sub", "path"), [
    ("v1", "ConfigMap", "a", "b", "", "/api/v1/namespaces/a/configmaps/b"),
    ("v1", "ConfigMap", "", "", "", "/api/v1/configmaps"),
    ("apps/v1", "Deployment", "a", "web", "status",
     "/apis/apps/v1/namespaces/a/deployments/web/status"),
    ("v1", "Namespace", "ignored", "n", "", "/api/v1/namespaces/n"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "x", "c", "",
     "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/c"),
    ("v1", "ConfigMap", "a", "we/ird name", "", "/api/v1/namespaces/a/configmaps/we%2Fird%20name"),
])
def test_paths(api_version: str, kind: str, ns: str, name: str, sub: str, path: str) -> None:
    res = builtin(api_version, kind)
    assert res is not None and res.path(ns, name, sub) == path


def test_builtin_needs_a_version_and_a_known_kind() -> None:
    assert builtin("apps", "Deployment") is None  # read as core group, version "apps"
    assert builtin("apps/", "Deployment") is None
    assert builtin("networking.istio.io/v1", "VirtualService") is None


DISCOVERY = {"kind": "APIResourceList", "groupVersion": "networking.istio.io/v1", "resources": [
    {"name": "virtualservices", "namespaced": True, "kind": "VirtualService"},
    {"name": "virtualservices/status", "namespaced": True, "kind": "VirtualService"},
    {"name": "gateways", "namespaced": True, "kind": "Gateway"},
    {"name": 5, "kind": "Broken"}, "junk",
]}


def test_discovery_parsing_and_caching() -> None:
    assert kinds_in(DISCOVERY, "networking.istio.io/v1") == {
        "VirtualService": Resource("networking.istio.io", "v1", "VirtualService",
                                   "virtualservices", True),
        "Gateway": Resource("networking.istio.io", "v1", "Gateway", "gateways", True)}
    fetched: list[str] = []
    clock = Clock()

    def fetch(path: str) -> dict[str, Any] | None:
        fetched.append(path)
        return DISCOVERY if "istio" in path else None

    r = Resolver(fetch, negative_ttl=30, clock=clock)
    vs = r.resolve("networking.istio.io/v1", "VirtualService")
    assert vs is not None and vs.path("ns", "x") == (
        "/apis/networking.istio.io/v1/namespaces/ns/virtualservices/x")
    assert r.resolve("networking.istio.io/v1", "Gateway") is not None
    assert fetched == ["/apis/networking.istio.io/v1"]  # one fetch for the group-version
    assert r.resolve("split.smi-spec.io/v1alpha4", "TrafficSplit") is None
    assert r.resolve("split.smi-spec.io/v1alpha4", "TrafficSplit") is None
    assert len(fetched) == 2  # the negative answer is cached...
    clock.now = 31
    assert r.resolve("split.smi-spec.io/v1alpha4", "TrafficSplit") is None
    assert len(fetched) == 3  # ...for negative_ttl seconds
    assert r.resolve("apps/v1", "Deployment") is not None and len(fetched) == 3


@settings(max_examples=100)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), max_size=8),
       st.data())
def test_line_splitter_is_independent_of_chunking(objs: list[dict[str, int]],
                                                  data: st.DataObject) -> None:
    stream = b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    splitter = LineSplitter()
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert [json.loads(line) for line in lines] == objs
    assert splitter.tail() == b""


def test_line_splitter_limits_a_line() -> None:
    splitter = LineSplitter(max_line=10)
    with pytest.raises(Unavailable, match="longer than 10 bytes"):
        splitter.feed(b"x" * 11)


def test_parse_event() -> None:
    ev = parse_event(b'{"type":"ADDED","object":{"metadata":{"resourceVersion":"5"}}}')
    assert ev == WatchEvent("ADDED", {"metadata": {"resourceVersion": "5"}})
    assert ev.resource_version == "5"
    bookmark = parse_event(b'{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{}}}')
    assert bookmark.resource_version == ""  # sparse bookmarks are tolerated
    expired = json.dumps({"type": "ERROR", "object": {
        "kind": "Status", "code": 410, "reason": "Expired",
        "message": "too old resource version: 1 (5)"}}).encode()
    with pytest.raises(Expired, match="too old resource version"):
        parse_event(expired)
    with pytest.raises(Unavailable, match="malformed watch event"):
        parse_event(b'{"type":"EXPLODED","object":{}}')


@given(st.binary(max_size=200))
def test_parse_event_fuzz(line: bytes) -> None:
    try:
        ev = parse_event(line)
    except KubeError:
        return
    assert ev.type in {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"}
    assert isinstance(ev.object, dict)


def obj(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "n", "name": name, "resourceVersion": rv}}


def test_informer_diff() -> None:
    old = {("n", "a"): obj("a", "1"), ("n", "b"): obj("b", "1"), ("n", "c"): obj("c", "1")}
    new = {("n", "a"): obj("a", "1"), ("n", "b"): obj("b", "2"), ("n", "d"): obj("d", "3")}
    assert diff(old, new) == [("MODIFIED", obj("b", "2"), obj("b", "1")),
                              ("ADDED", obj("d", "3"), None),
                              ("DELETED", obj("c", "1"), obj("c", "1"))]


def test_strip_noise_copies_only_when_needed() -> None:
    plain = obj("a", "1")
    assert strip_noise(plain) is plain
    noisy = {"metadata": {"name": "a", "managedFields": [{}], "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{}", "k": "v"}}}
    out = strip_noise(noisy)
    assert out["metadata"] == {"name": "a", "annotations": {"k": "v"}}
    assert "managedFields" in noisy["metadata"]  # the input is left alone
