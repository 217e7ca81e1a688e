"""CustomResourceDefinitions from upstream (Istio, Gateway API, SMI) and their validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.cluster.conftest import kubectl, raw
from webhook.cluster.runtime import RunningCluster

CRDS = Path(__file__).parent.parent / "data" / "crds"
VS = "/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices"
HR = "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes"


@pytest.fixture(scope="module")
def crds(api_cluster: RunningCluster) -> RunningCluster:
    for f in sorted(CRDS.glob("*.yaml")):
        out = kubectl(api_cluster, "apply", "-f", str(f))
        assert out.returncode == 0, out.stderr
    out = kubectl(api_cluster, "wait", "--for=condition=Established", "--timeout=10s",
                  "crd/virtualservices.networking.istio.io",
                  "crd/httproutes.gateway.networking.k8s.io",
                  "crd/trafficsplits.split.smi-spec.io")
    assert out.returncode == 0, out.stderr
    return api_cluster


def vs(name: str = "vs", weight: Any = 90) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name},
            "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": [
                {"destination": {"host": "web-stable"}, "weight": weight},
                {"destination": {"host": "web-canary"}, "weight": 10}]}]}}


def test_installed_crds_are_served_and_discoverable(crds: RunningCluster, ns: str) -> None:
    code, _, body = raw(crds, "POST", VS.format(ns=ns), vs())
    assert code == 201, body
    out = kubectl(crds, "-n", ns, "get", "virtualservices.networking.istio.io", "vs", "-o", "json")
    assert json.loads(out.stdout)["spec"]["http"][0]["route"][1]["weight"] == 10
    # the same object through another served version (conversion strategy None)
    code, _, body = raw(crds, "GET", VS.format(ns=ns).replace("/v1/", "/v1beta1/") + "/vs")
    assert code == 200 and json.loads(body)["apiVersion"] == "networking.istio.io/v1beta1"


def test_custom_object_api_of_the_client(crds: RunningCluster, api_client: k8s.ApiClient,
                                         ns: str) -> None:
    co: Any = k8s.CustomObjectsApi(api_client)
    co.create_namespaced_custom_object("split.smi-spec.io", "v1alpha4", ns, "trafficsplits", {
        "apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
        "metadata": {"name": "ts"},
        "spec": {"service": "web", "backends": [{"service": "web-stable", "weight": 90},
                                                {"service": "web-canary", "weight": 10}]}})
    patched = co.patch_namespaced_custom_object(
        "split.smi-spec.io", "v1alpha4", ns, "trafficsplits", "ts",
        {"spec": {"backends": [{"service": "web-stable", "weight": 50},
                               {"service": "web-canary", "weight": 50}]}})
    assert [b["weight"] for b in patched["spec"]["backends"]] == [50, 50]
    assert patched["metadata"]["generation"] == 2


def test_type_errors_are_422_with_the_field_path(crds: RunningCluster, ns: str) -> None:
    code, _, body = raw(crds, "POST", VS.format(ns=ns), vs("bad", weight="ninety"))
    status = json.loads(body)
    assert code == 422 and status["reason"] == "Invalid"
    cause = status["details"]["causes"][0]
    assert cause["field"] == "spec.http[0].route[0].weight"
    assert "must be of type integer" in cause["message"]
    assert status["message"].startswith('VirtualService.networking.istio.io "bad" is invalid')


def test_required_enum_bounds_and_pattern(crds: RunningCluster, ns: str) -> None:
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "r"},
             "spec": {"hostnames": ["Not_A_Host"], "rules": [{"backendRefs": [
                 {"port": 80, "weight": -1}]}]}}
    code, _, body = raw(crds, "POST", HR.format(ns=ns), route)
    assert code == 422
    fields = {c["field"]: c["message"] for c in json.loads(body)["details"]["causes"]}
    assert "spec.rules[0].backendRefs[0].name" in fields
    assert "should be greater than or equal to 0" in fields["spec.rules[0].backendRefs[0].weight"]
    assert "should match" in fields["spec.hostnames[0]"]


def test_defaults_applied_and_unknown_fields_pruned(crds: RunningCluster, ns: str) -> None:
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "d"},
             "spec": {"parentRefs": [{"name": "gw"}], "surprise": True,
                      "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
    code, headers, body = raw(crds, "POST", HR.format(ns=ns), route)
    assert code == 201, body
    obj = json.loads(body)
    assert "surprise" not in obj["spec"]
    ref = obj["spec"]["rules"][0]["backendRefs"][0]
    assert ref["weight"] == 1 and ref["kind"] == "Service" and ref["group"] == ""
    # RFC 7234 quoted-string, as kube-apiserver writes it
    assert headers.get("Warning") == '299 - "unknown field \\"spec.surprise\\""'
    code, _, body = raw(crds, "POST", HR.format(ns=ns) + "?fieldValidation=Strict",
                        {**route, "metadata": {"name": "e"}})
    assert code == 400 and 'unknown field "spec.surprise"' in json.loads(body)["message"]


def test_strategic_merge_on_custom_resources_is_415(crds: RunningCluster, ns: str) -> None:
    raw(crds, "POST", VS.format(ns=ns), vs("p"))
    code, _, body = raw(crds, "PATCH", VS.format(ns=ns) + "/p", {"spec": {"hosts": ["x"]}},
                        {"Content-Type": "application/strategic-merge-patch+json"})
    assert code == 415 and json.loads(body)["reason"] == "UnsupportedMediaType"


def test_put_without_resource_version_is_refused_for_custom_resources(crds: RunningCluster,
                                                                      ns: str) -> None:
    raw(crds, "POST", VS.format(ns=ns), vs("u"))
    code, _, body = raw(crds, "PUT", VS.format(ns=ns) + "/u", vs("u"))
    assert code == 422 and "must be specified for an update" in json.loads(body)["message"]


def test_kubectl_apply_of_a_custom_resource(crds: RunningCluster, ns: str) -> None:
    doc = vs("applied")
    doc["metadata"]["namespace"] = ns
    assert kubectl(crds, "apply", "-f", "-", stdin=yaml.safe_dump(doc)).returncode == 0
    doc["spec"]["http"][0]["route"][0]["weight"] = 50
    doc["spec"]["http"][0]["route"][1]["weight"] = 50
    out = kubectl(crds, "apply", "-f", "-", stdin=yaml.safe_dump(doc))
    assert out.returncode == 0 and "configured" in out.stdout, out.stderr
    got = json.loads(kubectl(crds, "-n", ns, "get", "vs", "applied", "-o", "json").stdout)
    assert [r["weight"] for r in got["spec"]["http"][0]["route"]] == [50, 50]


def test_deleting_the_crd_removes_its_objects(api_cluster: RunningCluster, ns: str) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    assert kubectl(api_cluster, "apply", "-f", "-", stdin=json.dumps(crd)).returncode == 0
    path = f"/apis/example.com/v1/namespaces/{ns}/widgets"
    code, _, _ = raw(api_cluster, "POST", path, {"apiVersion": "example.com/v1",
                                                 "kind": "Widget", "metadata": {"name": "w"},
                                                 "anything": {"goes": 1}})
    assert code == 201
    assert kubectl(api_cluster, "delete", "crd", "widgets.example.com").returncode == 0
    code, _, _ = raw(api_cluster, "GET", path)
    assert code == 404


def test_an_invalid_crd_is_refused(api_cluster: RunningCluster) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "wrong.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": False}]}}
    code, _, body = raw(api_cluster, "POST",
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    fields = {c["field"] for c in json.loads(body)["details"]["causes"]}
    assert code == 422
    assert fields == {"metadata.name", "spec.versions", "spec.versions[0].schema.openAPIV3Schema"}
