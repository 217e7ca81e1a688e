"""ClusterAPI semantics in-process: resourceVersion, generation, subresources, validation.

Each test cites the upstream behaviour it mirrors (k8s-semantics §3).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.cluster.conftest import deployment
from webhook.cluster.api import ClusterAPI
from webhook.errors import APIStatusError

D = "deployments.apps"


async def expect_status(coro: Any, code: int) -> dict[str, Any]:
    with pytest.raises(APIStatusError) as err:
        await coro
    assert err.value.status == code, err.value.body
    body: dict[str, Any] = err.value.body
    assert body["kind"] == "Status" and body["code"] == code
    return body


async def test_create_sets_server_metadata_and_rejects_client_rv() -> None:
    api = ClusterAPI()
    d = await api.create(D, "default", deployment())
    md = d["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z") and md["generation"] == 1
    assert int(md["resourceVersion"]) > 0
    body = await expect_status(api.create(D, "default", {**deployment("x"), "metadata": {
        "name": "x", "resourceVersion": "5"}}), 400)
    assert "resourceVersion should not be set" in body["message"]


async def test_resource_version_is_one_global_counter() -> None:
    """etcd's revision: every write anywhere bumps it; list returns the current one."""
    api = ClusterAPI()
    a = await api.create("configmaps", "default", {"metadata": {"name": "a"}})
    b = await api.create("secrets", "default", {"metadata": {"name": "b"}})
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    _, rv = await api.list("configmaps")
    assert rv == b["metadata"]["resourceVersion"]


async def test_stale_update_is_409_with_the_upstream_message() -> None:
    api = ClusterAPI()
    d = await api.create(D, "default", deployment())
    await api.patch(D, "default", "web", {"spec": {"replicas": 3}}, "merge")
    body = await expect_status(api.update(D, "default", d), 409)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been '
        "modified; please apply your changes to the latest version and try again")
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


async def test_put_without_rv_is_unconditional_except_for_leases_and_crs() -> None:
    api = ClusterAPI()
    d = await api.create(D, "default", deployment())
    del d["metadata"]["resourceVersion"]
    d["spec"]["replicas"] = 4
    assert (await api.update(D, "default", d))["spec"]["replicas"] == 4
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}}
    await api.create("leases.coordination.k8s.io", "default", lease)
    body = await expect_status(api.update("leases.coordination.k8s.io", "default", lease), 422)
    assert "must be specified for an update" in body["message"]


async def test_deployment_generation_bumps_on_spec_and_annotations_only() -> None:
    """Upstream deployment strategy: annotations count (they are copied to ReplicaSets)."""
    api = ClusterAPI()
    await api.create(D, "default", deployment())

    async def gen_after(patch: dict[str, Any]) -> int:
        out = await api.patch(D, "default", "web", patch, "merge")
        return int(out["metadata"]["generation"])

    assert await gen_after({"metadata": {"labels": {"x": "1"}}}) == 1
    assert await gen_after({"metadata": {"annotations": {"a": "1"}}}) == 2
    assert await gen_after({"spec": {"replicas": 5}}) == 3
    status = await api.patch(D, "default", "web", {"status": {"replicas": 5}}, "merge",
                             subresource="status")
    assert status["metadata"]["generation"] == 3 and status["status"]["replicas"] == 5


async def test_main_resource_ignores_status_and_status_ignores_spec() -> None:
    api = ClusterAPI()
    await api.create(D, "default", deployment())
    out = await api.patch(D, "default", "web", {"status": {"replicas": 9}}, "merge")
    assert out["status"] == {}
    out = await api.patch(D, "default", "web", {"spec": {"replicas": 9},
                                                "metadata": {"annotations": {"r": "1"},
                                                             "labels": {"l": "1"}}},
                          "merge", subresource="status")
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["annotations"] == {"r": "1"}  # persisted on /status, as upstream
    assert "labels" not in out["metadata"]


async def test_noop_update_keeps_the_resource_version() -> None:
    api = ClusterAPI()
    d = await api.create(D, "default", deployment())
    again = await api.update(D, "default", d)
    assert again["metadata"]["resourceVersion"] == d["metadata"]["resourceVersion"]


async def test_scale_subresource_reads_and_writes_replicas() -> None:
    api = ClusterAPI()
    await api.create(D, "default", deployment(labels={"app": "web", "tier": "a"}))
    scale = await api.get(D, "default", "web", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=web,tier=a"
    scale["spec"]["replicas"] = 7
    await api.update(D, "default", scale, subresource="scale")
    d = await api.get(D, "default", "web")
    assert d["spec"]["replicas"] == 7 and d["metadata"]["generation"] == 2
    body = await expect_status(api.patch(D, "default", "web", {"spec": {"replicas": -1}},
                                         "merge", subresource="scale"), 422)
    assert body["details"]["causes"][0]["field"] == "spec.replicas"


async def test_selector_is_immutable_and_must_match_the_template() -> None:
    api = ClusterAPI()
    await api.create(D, "default", deployment())
    body = await expect_status(api.patch(
        D, "default", "web",
        {"spec": {"selector": {"matchLabels": {"app": "x"}},
                  "template": {"metadata": {"labels": {"app": "x"}}}}}, "merge"), 422)
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.selector",
        "message": 'Invalid value: {"matchLabels":{"app":"x"}}: field is immutable'}]
    bad = deployment("bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    body = await expect_status(api.create(D, "default", bad), 422)
    assert body["message"].startswith('Deployment.apps "bad" is invalid: '
                                      "spec.template.metadata.labels: Invalid value")
    assert "`selector` does not match template `labels`" in body["message"]
    assert (await api.list(D))[0][0]["metadata"]["name"] == "web"  # nothing half-applied


async def test_deployment_defaults_as_apps_v1() -> None:
    api = ClusterAPI()
    d = deployment()
    del d["spec"]["replicas"]
    out = await api.create(D, "default", d)
    spec = out["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    c = spec["template"]["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent" and c["ports"][0]["protocol"] == "TCP"


async def test_type_errors_are_400_and_unknown_fields_follow_field_validation() -> None:
    api = ClusterAPI()
    bad = deployment()
    bad["spec"]["replicas"] = "3"
    body = await expect_status(api.create(D, "default", bad), 400)
    assert body["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32")
    typo = deployment()
    typo["spec"]["replicaz"] = 3
    body = await expect_status(api.create(D, "default", typo, field_validation="Strict"), 400)
    assert 'strict decoding error: unknown field "spec.replicaz"' in body["message"]
    warnings: list[str] = []
    out = await api.create(D, "default", typo, warnings=warnings)
    assert warnings == ['unknown field "spec.replicaz"'] and "replicaz" not in out["spec"]


async def test_namespace_must_exist_and_not_be_terminating() -> None:
    api = ClusterAPI()
    body = await expect_status(api.create("configmaps", "nope", {"metadata": {"name": "a"}}),
                               404)
    assert body["message"] == 'namespaces "nope" not found'
    await api.create("namespaces", None, {"metadata": {"name": "going"}})
    ns = await api.delete("namespaces", None, "going")
    assert ns["status"]["phase"] == "Terminating"
    body = await expect_status(api.create("configmaps", "going", {"metadata": {"name": "a"}}),
                               403)
    assert "because it is being terminated" in body["message"]


async def test_dry_run_validates_but_stores_nothing() -> None:
    api = ClusterAPI()
    out = await api.create(D, "default", deployment(), dry_run=True)
    assert out["metadata"]["uid"]
    await expect_status(api.get(D, "default", "web"), 404)
    await api.create(D, "default", deployment())
    rv = (await api.get(D, "default", "web"))["metadata"]["resourceVersion"]
    await api.patch(D, "default", "web", {"spec": {"replicas": 9}}, "merge", dry_run=True)
    await api.delete(D, "default", "web", dry_run=True)
    after = await api.get(D, "default", "web")
    assert after["spec"]["replicas"] == 2 and after["metadata"]["resourceVersion"] == rv


async def test_generate_name_and_already_exists() -> None:
    api = ClusterAPI()
    cm = await api.create("configmaps", "default", {"metadata": {"generateName": "web-"}})
    assert cm["metadata"]["name"].startswith("web-") and len(cm["metadata"]["name"]) == 9
    await api.create("configmaps", "default", {"metadata": {"name": "a"}})
    body = await expect_status(api.create("configmaps", "default", {"metadata": {"name": "a"}}),
                               409)
    assert body["reason"] == "AlreadyExists" and body["message"] == 'configmaps "a" already exists'


async def test_bound_pod_deletion_is_graceful_and_unbound_is_immediate() -> None:
    """pod strategy CheckGracefulDelete: a pod on a node lingers terminationGracePeriodSeconds."""
    api = ClusterAPI()
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = await api.create("pods", "default", pod)
    assert created["status"]["phase"] == "Pending"
    await api.create("pods", "default", {"target": {"kind": "Node", "name": "node-1"}},
                     subresource="binding", name="p")
    gone = await api.delete("pods", "default", "p")
    assert gone["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await api.get("pods", "default", "p"))["metadata"]["deletionTimestamp"]
    final = await api.delete("pods", "default", "p", grace_period_seconds=0)
    assert final["kind"] == "Pod"  # pods return the object on delete
    await expect_status(api.get("pods", "default", "p"), 404)
    await api.create("pods", "default", {**pod, "metadata": {"name": "q"}})
    await api.delete("pods", "default", "q")
    await expect_status(api.get("pods", "default", "q"), 404)


async def test_pod_spec_is_immutable_except_images() -> None:
    api = ClusterAPI()
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    await api.create("pods", "default", pod)
    await api.patch("pods", "default", "p",
                    {"spec": {"containers": [{"name": "c", "image": "j"}]}}, "strategic")
    body = await expect_status(api.patch("pods", "default", "p",
                                         {"spec": {"restartPolicy": "Never"}}, "merge"), 422)
    assert body["details"]["causes"][0]["field"] == "spec"


async def test_finalizers_hold_deletion_until_removed() -> None:
    api = ClusterAPI()
    await api.create("configmaps", "default", {"metadata": {"name": "f",
                                                            "finalizers": ["example.com/x"]}})
    held = await api.delete("configmaps", "default", "f")
    assert held["metadata"]["deletionTimestamp"]
    body = await expect_status(api.patch("configmaps", "default", "f", {"metadata": {
        "finalizers": ["example.com/x", "example.com/y"]}}, "merge"), 422)
    assert "no new finalizers can be added" in body["message"]
    await api.patch("configmaps", "default", "f", {"metadata": {"finalizers": None}}, "merge")
    await expect_status(api.get("configmaps", "default", "f"), 404)


async def test_delete_preconditions_conflict() -> None:
    api = ClusterAPI()
    await api.create("configmaps", "default", {"metadata": {"name": "a"}})
    body = await expect_status(api.delete("configmaps", "default", "a",
                                          preconditions={"uid": "other"}), 409)
    assert "Precondition failed: UID in precondition: other" in body["message"]


async def test_watch_replays_filters_and_expires() -> None:
    api = ClusterAPI(history_size=5)
    first = await api.create("configmaps", "default", {"metadata": {"name": "a",
                                                                    "labels": {"x": "1"}}})
    rv = first["metadata"]["resourceVersion"]
    events = api.watch("configmaps", "default", resource_version=rv, label_selector="x=1",
                       timeout_seconds=0.5)
    await api.patch("configmaps", "default", "a", {"metadata": {"labels": {"x": "2"}}}, "merge")
    await api.patch("configmaps", "default", "a", {"metadata": {"labels": {"x": "1"}}}, "merge")
    seen = [e["type"] async for e in events]
    # an update that makes an object stop/start matching arrives as DELETED/ADDED
    assert seen == ["DELETED", "ADDED"]
    for i in range(6):
        await api.create("configmaps", "default", {"metadata": {"name": f"n{i}"}})
    expired = [e async for e in api.watch("configmaps", "default", resource_version=rv)]
    assert len(expired) == 1 and expired[0]["type"] == "ERROR"
    assert expired[0]["object"]["code"] == 410 and expired[0]["object"]["reason"] == "Expired"
    assert expired[0]["object"]["message"].startswith(f"too old resource version: {rv} (")


async def test_watch_bookmarks_and_initial_events_end() -> None:
    api = ClusterAPI(bookmark_interval=0.05)
    await api.create("configmaps", "default", {"metadata": {"name": "a"}})
    events = api.watch("configmaps", "default", allow_bookmarks=True, send_initial_events=True,
                       timeout_seconds=0.3)
    got = [e async for e in events]
    assert got[0]["type"] == "ADDED"
    assert got[1]["type"] == "BOOKMARK"
    assert got[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert all(e["type"] == "BOOKMARK" for e in got[2:]) and len(got) > 2


async def test_watch_timeout_ends_the_stream() -> None:
    api = ClusterAPI()
    async with asyncio.timeout(2):
        got = [e async for e in api.watch("configmaps", "default", timeout_seconds=0.2)]
    assert got == []


async def test_ingress_class_annotation_and_field_conflict_on_create_only() -> None:
    """Upstream ValidateIngressCreate: the legacy kubernetes.io/ingress.class annotation may not
    be set together with spec.ingressClassName (updates of old objects are not checked)."""
    api = ClusterAPI()
    ing: dict[str, Any] = {
        "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"ingressClassName": "nginx",
                 "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }
    body = await expect_status(api.create("ingresses.networking.k8s.io", "default", ing), 422)
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "annotations.kubernetes.io/ingress.class",
        "message": 'Invalid value: "nginx": can not be set when the class field is also set'}]
    del ing["spec"]["ingressClassName"]
    created = await api.create("ingresses.networking.k8s.io", "default", ing)
    created["spec"]["ingressClassName"] = "nginx"
    await api.update("ingresses.networking.k8s.io", "default", created)
