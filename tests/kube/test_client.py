"""``KubeClient``/``SyncClient`` against the embedded API server over real HTTPS: CRUD, the
three patch types, the status subresource, lists and paging, and every error mapped once."""

from __future__ import annotations

import asyncio

import pytest

from tests.kube.conftest import configmap, deployment, new_namespace
from webhook.cluster.runtime import RunningCluster
from webhook.errors import Conflict, Forbidden, Invalid, InvalidInput, NotFound
from webhook.kube import warnings as api_warnings
from webhook.kube.client import KubeClient, SyncClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectClient, ObjectRef


def cm_ref(ns: str, name: str) -> ObjectRef:
    return ObjectRef("v1", "ConfigMap", ns, name)


async def test_it_is_an_object_client(client: KubeClient) -> None:
    def takes(c: ObjectClient) -> ObjectClient:
        return c

    assert takes(client) is client


async def test_create_get_replace_delete(client: KubeClient, ns: str) -> None:
    created = await client.create(configmap(ns, "a", k="1"))
    assert created["metadata"]["uid"] and created["data"] == {"k": "1"}
    got = await client.get(cm_ref(ns, "a"))
    assert got is not None and got["metadata"]["resourceVersion"] == created["metadata"][
        "resourceVersion"]
    got["data"]["k"] = "2"
    replaced = await client.replace(got)
    assert replaced["data"] == {"k": "2"}
    assert replaced["metadata"]["resourceVersion"] != got["metadata"]["resourceVersion"]
    assert await client.delete(cm_ref(ns, "a")) is True
    assert await client.get(cm_ref(ns, "a")) is None
    assert await client.delete(cm_ref(ns, "a")) is False


async def test_stale_replace_is_a_conflict_and_the_caller_rereads(client: KubeClient,
                                                                  ns: str) -> None:
    first = await client.create(configmap(ns, "c", k="1"))
    await client.replace(dict(first, data={"k": "2"}))
    with pytest.raises(Conflict) as err:
        await client.replace(dict(first, data={"k": "3"}))  # carries the old resourceVersion
    assert err.value.status == 409 and err.value.reason == "Conflict"
    assert "has been modified" in str(err.value)
    fresh = await client.get(cm_ref(ns, "c"))
    assert fresh is not None
    assert (await client.replace(dict(fresh, data={"k": "3"})))["data"] == {"k": "3"}
    # Conflict answers are not retried: exactly one PUT went out for the stale write.
    assert client.rest.stats[("PUT", 409)] == 1


async def test_create_of_an_existing_object_is_already_exists(client: KubeClient,
                                                              ns: str) -> None:
    await client.create(configmap(ns, "dup"))
    with pytest.raises(Conflict) as err:
        await client.create(configmap(ns, "dup"))
    assert err.value.reason == "AlreadyExists"
    assert str(err.value) == 'configmaps "dup" already exists'


async def test_not_found_on_writes(client: KubeClient, ns: str) -> None:
    with pytest.raises(NotFound) as err:
        await client.patch(cm_ref(ns, "ghost"), {"data": {"a": "b"}})
    assert err.value.status == 404 and str(err.value) == 'configmaps "ghost" not found'
    with pytest.raises(NotFound):
        await client.replace(dict(configmap(ns, "ghost"),
                                  metadata={"name": "ghost", "namespace": ns,
                                            "resourceVersion": "1"}))


async def test_invalid_object_carries_the_servers_message_and_causes(client: KubeClient,
                                                                     ns: str) -> None:
    bad = deployment(ns, "bad")
    bad["spec"]["replicas"] = -1
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    with pytest.raises(Invalid) as err:
        await client.create(bad)
    assert err.value.status == 422 and err.value.reason == "Invalid"
    assert str(err.value).startswith('Deployment.apps "bad" is invalid: ')
    fields = {c.path for c in err.value.causes}
    assert fields == {"spec.replicas", "spec.template.spec.containers[0].image"}
    assert all(c.message for c in err.value.causes)
    assert await client.get(ObjectRef("apps/v1", "Deployment", ns, "bad")) is None


async def test_the_three_patch_types(client: KubeClient, ns: str) -> None:
    await client.create(deployment(ns, "p"))
    ref = ObjectRef("apps/v1", "Deployment", ns, "p")
    merged = await client.patch(ref, {"metadata": {"annotations": {"a": "1"}}})
    assert merged["metadata"]["annotations"]["a"] == "1"
    # strategic merge merges containers by name (a merge patch would replace the list)
    sm = await client.patch(ref, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "demo:v2"}]}}}}, patch_type="strategic")
    container = sm["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "demo:v2" and container["ports"] == [{"containerPort": 8080,
                                                                      "protocol": "TCP"}]
    jp = await client.patch(ref, [{"op": "test", "path": "/spec/replicas", "value": 2},
                                  {"op": "replace", "path": "/spec/replicas", "value": 3}],
                            patch_type="json")
    assert jp["spec"]["replicas"] == 3
    with pytest.raises(Invalid) as err:  # a failing test op: 422
        await client.patch(ref, [{"op": "test", "path": "/spec/replicas", "value": 9}],
                           patch_type="json")
    assert err.value.status == 422


async def test_strategic_merge_on_a_config_map_key_deletion(client: KubeClient,
                                                            ns: str) -> None:
    await client.create(configmap(ns, "sm", a="1", b="2"))
    out = await client.patch(cm_ref(ns, "sm"), {"data": {"a": None}}, patch_type="strategic")
    assert out["data"] == {"b": "2"}


async def test_bad_patch_shapes_are_refused_before_any_request(client: KubeClient,
                                                               ns: str) -> None:
    before = sum(client.rest.stats.values())
    with pytest.raises(InvalidInput, match="a JSON patch is a list of operations"):
        await client.patch(cm_ref(ns, "x"), {"data": {}}, patch_type="json")
    with pytest.raises(InvalidInput, match="a merge patch is an object"):
        await client.patch(cm_ref(ns, "x"), [], patch_type="merge")
    with pytest.raises(InvalidInput, match=r"metadata\.name: required"):
        await client.get(cm_ref(ns, ""))
    with pytest.raises(InvalidInput, match=r"metadata\.namespace: required for ConfigMap"):
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    with pytest.raises(InvalidInput, match="apiVersion: required"):
        await client.create({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": ns}})
    assert sum(client.rest.stats.values()) == before


async def test_status_subresource_keeps_generation(client: KubeClient, ns: str) -> None:
    created = await client.create(deployment(ns, "st"))
    ref = ObjectRef("apps/v1", "Deployment", ns, "st")
    out = await client.patch(ref, {"metadata": {"annotations": {"canarist.io/status": "{}"}}},
                             subresource="status")
    assert out["metadata"]["annotations"]["canarist.io/status"] == "{}"
    assert out["metadata"]["generation"] == created["metadata"]["generation"]
    main = await client.patch(ref, {"metadata": {"annotations": {"x": "y"}}})
    assert main["metadata"]["generation"] == created["metadata"]["generation"] + 1


async def test_lists_selectors_pages_and_all_namespaces(client: KubeClient,
                                                        embedded_cluster: RunningCluster,
                                                        ns: str) -> None:
    other = new_namespace(embedded_cluster)
    for i in range(7):
        obj = configmap(ns if i % 2 else other, f"l{i}")
        obj["metadata"]["labels"] = {"set": "listing", "odd": str(i % 2)}
        await client.create(obj)
    items, rv = await client.list_all("v1", "ConfigMap", ns, label_selector="set=listing",
                                      page_size=2)
    assert sorted(i["metadata"]["name"] for i in items) == ["l1", "l3", "l5"]
    assert rv.isdigit()
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in items)
    everywhere = await client.list("v1", "ConfigMap", "", label_selector="set=listing,odd=0")
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere} == {
        (other, "l0"), (other, "l2"), (other, "l4"), (other, "l6")}
    by_field = await client.list("v1", "ConfigMap", ns, field_selector="metadata.name=l3")
    assert [i["metadata"]["name"] for i in by_field] == ["l3"]


async def test_bad_selector_is_invalid(client: KubeClient, ns: str) -> None:
    with pytest.raises(Invalid) as err:
        await client.list("v1", "ConfigMap", ns, label_selector="a in (")
    assert err.value.status == 400


async def test_kinds_not_served(client: KubeClient, ns: str) -> None:
    ref = ObjectRef("example.com/v1", "Widget", ns, "w")
    assert await client.get(ref) is None
    assert await client.delete(ref) is False
    with pytest.raises(NotFound, match=r"does not serve Widget in example.com/v1 \(is its "
                                       r"CustomResourceDefinition installed\?\)"):
        await client.create({"apiVersion": "example.com/v1", "kind": "Widget",
                             "metadata": {"name": "w", "namespace": ns}})
    with pytest.raises(NotFound):
        await client.list("example.com/v1", "Widget", ns)


async def test_cluster_scoped_kinds_ignore_the_namespace(client: KubeClient, ns: str) -> None:
    got = await client.get(ObjectRef("v1", "Namespace", "", ns))
    assert got is not None and got["metadata"]["name"] == ns


async def test_concurrent_calls_share_the_pool(client: KubeClient, ns: str) -> None:
    await asyncio.gather(*(client.create(configmap(ns, f"c{i}")) for i in range(24)))
    assert len(await client.list("v1", "ConfigMap", ns)) >= 24


def test_sync_client_and_bad_token(sync_client: SyncClient, ns: str,
                                   embedded_cluster: RunningCluster, tmp_path) -> None:
    sync_client.create(configmap(ns, "s"))
    assert sync_client.get(cm_ref(ns, "s")) is not None
    text = embedded_cluster.kubeconfig.read_text()
    token = embedded_cluster.cluster.creds.token
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(text.replace(token, "wrong-token"))
    from webhook.kube.client import connect_sync

    c = connect_sync(ClientOptions(kubeconfig=str(bad)))
    try:
        with pytest.raises(Forbidden) as err:
            c.get(cm_ref(ns, "s"))
        assert err.value.status == 401
    finally:
        c.close()


async def test_served_versions_of_a_group_from_discovery(
    client: KubeClient, options: ClientOptions
) -> None:
    group = f"versions-{options.namespace}.example.com"
    assert await client.served_versions(group) == ()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": name, "served": served, "storage": name == "v1",
                 "schema": {"openAPIV3Schema": {"type": "object"}}}
                for name, served in (("v1", True), ("v1beta1", True), ("v1alpha1", False))
            ],
        },
    }
    await client.create(crd)
    assert await client.served_versions(group) == ()  # cached for a while, like kinds
    async with connect(options) as fresh:
        assert sorted(await fresh.served_versions(group)) == ["v1", "v1beta1"]


async def test_warnings_of_the_api_server_are_collected_around_calls(
    client: KubeClient, options: ClientOptions
) -> None:
    """A field a CRD does not have is pruned with upstream's warning (``unknown field``), and
    ``warnings.collect`` hands it to the caller, also from the client's thread pool."""
    group = f"warn-{options.namespace}.example.com"
    await client.create({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
        },
    })
    body = {"apiVersion": f"{group}/v1", "kind": "Gadget",
            "metadata": {"name": "g", "namespace": options.namespace},
            "spec": {"size": 1, "colour": "red"}}
    async with connect(options) as fresh:
        with api_warnings.collect() as said:
            created = await fresh.create(body)
        assert "colour" not in created["spec"]
        assert said == [
            f"POST /apis/{group}/v1/namespaces/{options.namespace}/gadgets: "
            'unknown field "spec.colour"'
        ]
        await fresh.create(dict(body, metadata={"name": "h", "namespace": options.namespace}))
