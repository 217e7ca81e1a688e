"""Nothing is lost between client-go's protobuf encoding and the JSON form the API server keeps.

For every kind the cluster takes as protobuf, objects are generated from the schema itself (every
field the schema has, embedded ``json:",inline"`` structs flattened as encoding/json prints them),
encoded with the tests' encoder (embedded structs as messages of their own, as Go writes them),
decoded, and compared: any field the decoder drops, refuses or misplaces fails the test.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from tests.cluster.protobuf_encode import encode, message
from webhook.cluster.protobuf import decode_object
from webhook.cluster.protobuf.decode import schema

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
MAX_DEPTH = 9
KINDS = sorted(schema()["kinds"].items())

_text = hs.text(hs.characters(exclude_categories=["Cs"]), min_size=1, max_size=8)
_epoch = hs.integers(0, 4_000_000_000)


def _int(ftype: str, keep_zero: bool) -> hs.SearchStrategy[int]:
    bits = 31 if ftype == "int32" else 63
    ints = hs.integers(-(1 << bits), (1 << bits) - 1)
    return ints if keep_zero else ints.filter(bool)


def _special(name: str) -> hs.SearchStrategy[Any] | None:
    """The JSON shapes of the apimachinery types (never their zero: that is left out)."""
    import datetime as dt

    def stamp(seconds: int, micros: int | None = None) -> str:
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
        text = when.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{text}Z" if micros is None else f"{text}.{micros:06d}Z"

    if name == META + "Time":
        return _epoch.filter(bool).map(stamp)
    if name == META + "MicroTime":
        return hs.builds(stamp, _epoch.filter(bool), hs.integers(0, 999_999))
    if name == _INT_OR_STRING:
        return hs.integers(-(1 << 31), (1 << 31) - 1) | _text
    if name == _QUANTITY:
        return hs.sampled_from(["1", "250m", "64Mi", "1.5Gi", "2e3"])
    if name == META + "FieldsV1":
        return hs.dictionaries(hs.sampled_from(["f:a", "f:b", "k:{\"name\":\"x\"}"]),
                               hs.just({}), min_size=1, max_size=2)
    return None


def _scalar(ftype: str, keep_zero: bool) -> hs.SearchStrategy[Any]:
    if ftype == "string":
        return (hs.just("") | _text) if keep_zero else _text
    if ftype == "bytes":
        return hs.binary(min_size=0 if keep_zero else 1, max_size=8).map(
            lambda b: base64.b64encode(b).decode())
    if ftype == "bool":
        return hs.booleans() if keep_zero else hs.just(True)
    return _int(ftype, keep_zero)


def _fields(name: str) -> list[list[Any]]:
    """The fields a message prints in JSON: an embedded struct's fields stand in for it."""
    out: list[list[Any]] = []
    for field in schema()["messages"][name].values():
        out += _fields(field[2]) if field[5] else [field]
    return out


@cache
def _message(name: str, depth: int) -> hs.SearchStrategy[Any]:
    special = _special(name)
    if special is not None:
        return special
    fields = [f for f in _fields(name) if depth < MAX_DEPTH or f[1] not in ("message", "map")]
    if not fields:
        return hs.just({})
    most = 4 if depth < 3 else 2
    # the fields on the way to an embedded struct are drawn more often, so that deep ones
    # (a Deployment's probe handlers, volume sources) are reached in a few dozen examples
    leading = [f for f in fields if _leads_inline(f)]

    def build(chosen: list[list[Any]]) -> hs.SearchStrategy[dict[str, Any]]:
        return hs.fixed_dictionaries({f[0]: _value(f, depth) for f in chosen})

    picks = hs.lists(hs.sampled_from(fields), max_size=most)
    if leading:
        picks = hs.builds(lambda a, b: a + b,
                          hs.lists(hs.sampled_from(leading), max_size=2), picks)
    return picks.map(lambda chosen: list({f[0]: f for f in chosen}.values())).flatmap(build)


@cache
def _inline_below(name: str) -> bool:
    """Whether a message has an embedded struct, itself or somewhere below."""
    table = schema()["messages"].get(name, {})
    return any(f[5] or _leads_inline(f) for f in table.values())


def _leads_inline(field: list[Any]) -> bool:
    ref = field[2][2] if field[1] == "map" else field[2]
    return field[1] in ("message", "map") and bool(ref) and _below(ref)


_visiting: set[str] = set()


def _below(name: str) -> bool:
    if name in _visiting:  # a recursive message (JSONSchemaProps-like): no news down there
        return False
    _visiting.add(name)
    try:
        return _inline_below(name)
    finally:
        _visiting.discard(name)


def _value(field: list[Any], depth: int) -> hs.SearchStrategy[Any]:
    _, ftype, ref, repeated, keep_zero, _ = field
    if ftype == "map":
        key_type, value_type, value_ref = ref
        values = (hs.deferred(lambda: _message(value_ref, depth + 1)) if value_type == "message"
                  else _scalar(value_type, True))
        return hs.dictionaries(_scalar(key_type, True), values, min_size=1, max_size=2)
    if ftype == "message":
        one = hs.deferred(lambda: _message(ref, depth + 1))
    else:
        one = _scalar(ftype, keep_zero or repeated)
    return hs.lists(one, min_size=1, max_size=2) if repeated else one


def objects(api_version: str, kind: str, root: str) -> hs.SearchStrategy[dict[str, Any]]:
    return _message(root, 0).map(lambda body: {"apiVersion": api_version, "kind": kind, **body})


@pytest.mark.parametrize(("gvk", "root"), KINDS, ids=[k for k, _ in KINDS])
def test_every_served_kind_round_trips(gvk: str, root: str) -> None:
    api_version, _, kind = gvk.rpartition("/")

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(obj=objects(api_version, kind, root))
    def round_trip(obj: dict[str, Any]) -> None:
        decoded = decode_object(encode(obj))
        assert decoded == obj, json.dumps({"sent": obj, "got": decoded}, sort_keys=True)[:2000]

    round_trip()


def _fields_of_kind(root: str, seen: frozenset[str] = frozenset()) -> set[str]:
    names = set()
    for field in _fields(root):
        names.add(field[0])
        ref = field[2][2] if field[1] == "map" else field[2]
        if field[1] in ("message", "map") and ref and ref not in seen:
            names |= _fields_of_kind(ref, seen | {root})
    return names


def test_the_generator_reaches_the_embedded_structs() -> None:
    """The fields of every embedded struct are fields a generated object can carry."""
    pod = _fields_of_kind("k8s.io.api.core.v1.Pod")
    assert {"httpGet", "exec", "tcpSocket", "grpc", "emptyDir", "secret", "configMap",
            "projected"} <= pod
    assert "http" in _fields_of_kind("k8s.io.api.networking.v1.Ingress")
    assert "apiGroups" in _fields_of_kind(
        "k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration")


# What the bug report shows, as Go's encoder writes it: the embedded structs as messages.
CORE = "k8s.io.api.core.v1."


def test_a_deployment_keeps_its_probe_handler_volume_source_and_key_references() -> None:
    container = {
        "name": "app", "image": "demo:v1",
        "livenessProbe": {"handler": {"httpGet": {"path": "/healthz", "port": 8080}},
                          "periodSeconds": 5},
        "readinessProbe": {"handler": {"exec": {"command": ["true"]}}},
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {
            "localObjectReference": {"name": "creds"}, "key": "token"}}}],
        "envFrom": [{"configMapRef": {"localObjectReference": {"name": "settings"}}}],
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/s"}],
    }
    body = {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [container],
            "volumes": [{"name": "scratch", "volumeSource": {"emptyDir": {}}},
                        {"name": "cfg", "volumeSource": {"configMap": {
                            "localObjectReference": {"name": "settings"}}}}]}}}}
    raw = encode({"apiVersion": "apps/v1", "kind": "Deployment", **body})
    spec = decode_object(raw)["spec"]["template"]["spec"]
    got = spec["containers"][0]
    assert got["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": 8080},
                                    "periodSeconds": 5}
    assert got["readinessProbe"] == {"exec": {"command": ["true"]}}
    assert got["env"][0]["valueFrom"] == {"secretKeyRef": {"name": "creds", "key": "token"}}
    assert got["envFrom"] == [{"configMapRef": {"name": "settings"}}]
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {}},
                               {"name": "cfg", "configMap": {"name": "settings"}}]


def test_an_ingress_rule_keeps_its_http_paths() -> None:
    rule = {"host": "shop.example.com", "ingressRuleValue": {"http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}}
    raw = encode({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                  "metadata": {"name": "shop"}, "spec": {"rules": [rule]}})
    assert decode_object(raw)["spec"]["rules"] == [{"host": "shop.example.com", "http": {
        "paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]


def test_webhook_rules_keep_their_groups_versions_and_resources() -> None:
    raw = message("k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration", {
        "metadata": {"name": "v"}, "webhooks": [{"name": "v.example.com", "rules": [{
            "operations": ["CREATE"], "rule": {"apiGroups": ["apps"], "apiVersions": ["v1"],
                                               "resources": ["deployments"]}}]}]})
    from tests.cluster.protobuf_encode import unknown
    obj = decode_object(unknown("admissionregistration.k8s.io/v1",
                                "ValidatingWebhookConfiguration", raw))
    assert obj["webhooks"][0]["rules"] == [{"operations": ["CREATE"], "apiGroups": ["apps"],
                                            "apiVersions": ["v1"], "resources": ["deployments"]}]
