"""The API over real HTTPS, driven by the official client (typed API and DynamicClient)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.cluster.conftest import deployment, raw
from webhook.cluster.runtime import RunningCluster


def status_of(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body or "")
    assert body["kind"] == "Status" and body["code"] == err.status
    return body


def test_requests_without_the_token_get_401(api_cluster: RunningCluster) -> None:
    ctx = ssl.create_default_context(cadata=api_cluster.cluster.creds.ca.cert_pem.decode())
    with pytest.raises(urllib.request.HTTPError) as err:
        urllib.request.urlopen(f"{api_cluster.url}/api/v1/namespaces", context=ctx, timeout=5)
    assert err.value.code == 401
    assert json.loads(err.value.read())["reason"] == "Unauthorized"


def test_typed_client_crud_and_conflict(api_client: k8s.ApiClient, ns: str) -> None:
    apps: Any = k8s.AppsV1Api(api_client)
    created = apps.create_namespaced_deployment(ns, deployment())
    assert created.metadata.generation == 1 and created.spec.replicas == 2
    got = apps.read_namespaced_deployment("web", ns)
    got.spec.replicas = 3
    apps.replace_namespaced_deployment("web", ns, got)
    got.spec.replicas = 4  # got still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", ns, got)
    assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"
    patched = apps.patch_namespaced_deployment(
        "web", ns, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "demo:v2"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "demo:v2"
    assert patched.spec.template.spec.containers[0].ports[0].container_port == 8080
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 6}})
    assert scale.spec.replicas == 6
    status = apps.delete_namespaced_deployment("web", ns)
    assert status["status"] == "Success" and status["details"]["kind"] == "deployments"
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("web", ns)
    assert status_of(err.value)["message"] == 'deployments.apps "web" not found'


def test_invalid_object_gets_422_with_field_causes(api_client: k8s.ApiClient, ns: str) -> None:
    bad = deployment()
    bad["spec"]["replicas"] = -1
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    with pytest.raises(ApiException) as err:
        apps: Any = k8s.AppsV1Api(api_client)
        apps.create_namespaced_deployment(ns, bad)
    body = status_of(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"spec.replicas", "spec.template.spec.containers[0].image"}
    assert body["details"]["kind"] == "Deployment" and body["details"]["group"] == "apps"


def test_unsupported_patch_type_and_verb(api_cluster: RunningCluster, api_client: k8s.ApiClient,
                                         ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    code, _, body = raw(api_cluster, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/c", {},
                        {"Content-Type": "text/plain"})
    assert code == 415 and json.loads(body)["reason"] == "UnsupportedMediaType"
    code, _, body = raw(api_cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps/c", {})
    assert code == 405 and json.loads(body)["reason"] == "MethodNotAllowed"
    code, _, body = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/nosuchthings")
    assert code == 404 and json.loads(body)["kind"] == "Status"


def test_label_and_field_selectors_and_paging(api_client: k8s.ApiClient, ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    for i in range(5):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}", "labels": {
            "parity": "even" if i % 2 == 0 else "odd"}}})
    even = core.list_namespaced_config_map(ns, label_selector="parity=even")
    assert [c.metadata.name for c in even.items] == ["c0", "c2", "c4"]
    one = core.list_namespaced_config_map(ns, field_selector="metadata.name=c3")
    assert [c.metadata.name for c in one.items] == ["c3"]
    page = core.list_namespaced_config_map(ns, limit=2, label_selector="parity")
    assert len(page.items) == 2 and page.metadata._continue
    assert page.metadata.remaining_item_count == 3
    rest = core.list_namespaced_config_map(ns, limit=10, label_selector="parity",
                                           _continue=page.metadata._continue)
    assert [c.metadata.name for c in page.items + rest.items] == [f"c{i}" for i in range(5)]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, label_selector="parity in ()")
    assert err.value.status == 400


def test_watch_stream_with_the_client(api_client: k8s.ApiClient, ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    first = core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", ns, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w", ns)
    w: Any = k8s_watch.Watch()
    types = [e["type"] for e in w.stream(core.list_namespaced_config_map, ns,
                                         resource_version=first.metadata.resource_version,
                                         timeout_seconds=1)]
    assert types == ["MODIFIED", "DELETED"]


def test_watch_410_reaches_the_client_as_an_error(api_cluster: RunningCluster,
                                                  api_client: k8s.ApiClient, ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    store = api_cluster.api.store
    old_size = store.history_size
    store.history_size = 3
    try:
        first = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
        for i in range(5):
            core.create_namespaced_config_map(ns, {"metadata": {"name": f"y{i}"}})
    finally:
        store.history_size = old_size
    resp = core.list_namespaced_config_map(ns, watch=True,
                                           resource_version=first.metadata.resource_version,
                                           timeout_seconds=2, _preload_content=False)
    lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    assert lines[0]["object"]["code"] == 410 and lines[0]["object"]["reason"] == "Expired"
    w: Any = k8s_watch.Watch()
    with pytest.raises(ApiException) as err:
        list(w.stream(core.list_namespaced_config_map, ns,
                      resource_version=first.metadata.resource_version, timeout_seconds=2))
    assert err.value.status == 410


def test_watch_bookmarks_over_http(api_client: k8s.ApiClient, ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    resp = core.list_namespaced_secret(ns, watch=True, allow_watch_bookmarks=True,
                                       timeout_seconds=1, _preload_content=False)
    events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert events and all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["kind"] == "Secret"
    assert events[0]["object"]["metadata"]["resourceVersion"].isdigit()


def test_dynamic_client_discovers_and_uses_resources(api_client: k8s.ApiClient,
                                                     ns: str) -> None:
    dyn: Any = DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=deployment("dyn"), namespace=ns)
    got = deployments.get(name="dyn", namespace=ns)
    assert got.spec.replicas == 2
    slices = dyn.resources.get(api_version="discovery.k8s.io/v1", kind="EndpointSlice")
    assert slices.namespaced
    listing = deployments.get(namespace=ns)
    assert [i.metadata.name for i in listing.items] == ["dyn"]


def test_dry_run_over_http(api_client: k8s.ApiClient, ns: str) -> None:
    apps: Any = k8s.AppsV1Api(api_client)
    apps.create_namespaced_deployment(ns, deployment(), dry_run="All")
    assert apps.list_namespaced_deployment(ns).items == []
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(ns, deployment(), dry_run="Some")
    assert err.value.status == 400


def test_lease_race_gets_409(api_client: k8s.ApiClient, ns: str) -> None:
    coord: Any = k8s.CoordinationV1Api(api_client)
    lease = coord.create_namespaced_lease(ns, {"metadata": {"name": "leader"}, "spec": {
        "holderIdentity": "a", "leaseDurationSeconds": 15}})
    lease.spec.holder_identity = "b"
    coord.replace_namespaced_lease("leader", ns, lease)
    lease.spec.holder_identity = "c"
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("leader", ns, lease)
    assert err.value.status == 409


def test_discovery_documents(api_cluster: RunningCluster) -> None:
    ctx = ssl.create_default_context(cadata=api_cluster.cluster.creds.ca.cert_pem.decode())
    token = api_cluster.cluster.creds.token

    def get(path: str, accept: str = "application/json") -> tuple[str, Any]:
        req = urllib.request.Request(f"{api_cluster.url}{path}", headers={
            "Authorization": f"Bearer {token}", "Accept": accept})
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return resp.headers["Content-Type"], json.loads(resp.read())

    _, groups = get("/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "discovery.k8s.io", "networking.k8s.io", "coordination.k8s.io",
            "autoscaling", "admissionregistration.k8s.io", "apiextensions.k8s.io"} <= names
    _, apps = get("/apis/apps/v1")
    by_name = {r["name"]: r for r in apps["resources"]}
    assert by_name["deployments/scale"]["kind"] == "Scale"
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    ctype, agg = get("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;"
                              "as=APIGroupDiscoveryList,application/json")
    assert "as=APIGroupDiscoveryList" in ctype and agg["kind"] == "APIGroupDiscoveryList"
    _, root = get("/openapi/v3")
    assert "apis/apps/v1" in root["paths"]
