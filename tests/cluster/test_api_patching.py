"""PATCH semantics: strategic merge with the upstream merge keys, merge patch, JSON patch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from webhook.cluster.patching import apply_patch, merge_patch
from webhook.cluster.resources import BUILTINS, ResourceType
from webhook.errors import APIStatusError

DEPLOY = next(r for r in BUILTINS if r.kind == "Deployment")
SERVICE = next(r for r in BUILTINS if r.kind == "Service")
CR = ResourceType("example.com", "Widget", "widgets", True, ("v1",), custom=True)


def pod_template(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def smp(doc: dict[str, Any], patch: dict[str, Any], rt: ResourceType = DEPLOY) -> dict[str, Any]:
    return apply_patch(doc, patch, "application/strategic-merge-patch+json", rt)


def test_containers_merge_by_name_as_kubectl_set_image_relies_on() -> None:
    doc = pod_template({"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
                       {"name": "side", "image": "s1"})
    out = smp(doc, pod_template({"name": "app", "image": "v2"}))
    assert containers(out) == [
        {"name": "app", "image": "v2", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "s1"},
    ]


def test_env_and_ports_merge_by_their_keys() -> None:
    doc = pod_template({"name": "app", "env": [{"name": "A", "value": "1"}],
                        "ports": [{"containerPort": 80, "name": "http"}]})
    out = smp(doc, pod_template({"name": "app", "env": [{"name": "B", "value": "2"}],
                                 "ports": [{"containerPort": 80, "protocol": "TCP"},
                                           {"containerPort": 90}]}))
    c = containers(out)[0]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert c["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"},
                          {"containerPort": 90}]


def test_patch_delete_directive_removes_one_element() -> None:
    doc = pod_template({"name": "app"}, {"name": "side"})
    out = smp(doc, pod_template({"name": "side", "$patch": "delete"}))
    assert containers(out) == [{"name": "app"}]


def test_patch_replace_directive_replaces_the_list() -> None:
    doc = pod_template({"name": "app", "image": "a"}, {"name": "side"})
    out = smp(doc, pod_template({"$patch": "replace"}, {"name": "new", "image": "n"}))
    assert containers(out) == [{"name": "new", "image": "n"}]


def test_set_element_order_orders_the_merged_list() -> None:
    doc = pod_template({"name": "a"}, {"name": "b"})
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
        "containers": [{"name": "c"}]}}}}
    assert [c["name"] for c in containers(smp(doc, patch))] == ["c", "b", "a"]


def test_webhooks_merge_by_name_as_helm_upgrades_them() -> None:
    """Helm's three-way patch of a MutatingWebhookConfiguration whose caBundle a controller
    wrote: the webhooks merge by name, so the caBundle stays (it was a 500)."""
    mwc = next(r for r in BUILTINS if r.kind == "MutatingWebhookConfiguration")
    doc = {"webhooks": [{"name": "a.example.com", "timeoutSeconds": 5,
                         "clientConfig": {"caBundle": "Q0E=", "service": {"name": "s"}}},
                        {"name": "b.example.com"}]}
    patch = {"$setElementOrder/webhooks": [{"name": "b.example.com"}, {"name": "a.example.com"}],
             "webhooks": [{"name": "a.example.com", "timeoutSeconds": 10}]}
    out = smp(doc, patch, mwc)
    assert [w["name"] for w in out["webhooks"]] == ["b.example.com", "a.example.com"]
    assert out["webhooks"][1] == {"name": "a.example.com", "timeoutSeconds": 10,
                                  "clientConfig": {"caBundle": "Q0E=", "service": {"name": "s"}}}
    sa = next(r for r in BUILTINS if r.kind == "ServiceAccount")
    out = smp({"secrets": [{"name": "t1"}]}, {"secrets": [{"name": "t2"}]}, sa)
    assert out["secrets"] == [{"name": "t1"}, {"name": "t2"}]


def test_an_element_order_over_a_list_without_merge_key_is_not_a_crash() -> None:
    doc = {"spec": {"template": {"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}}}
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/tolerations": [{"key": "b"}, {"key": "a"}]}}}}
    out = smp(doc, patch)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "a"}, {"key": "b"}]

def test_webhooks_merge_by_name_as_helm_upgrades_a_webhook_configuration() -> None:
    """Helm's three-way merge of a MutatingWebhookConfiguration that gains an entry: the
    caBundle someone else set on the first entry stays (upstream: patchMergeKey=name)."""
    mwc = next(r for r in BUILTINS if r.kind == "MutatingWebhookConfiguration")
    doc = {"webhooks": [{"name": "a.example.com", "clientConfig": {"caBundle": "Q0E="},
                         "timeoutSeconds": 5}]}
    patch = {"$setElementOrder/webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}],
             "webhooks": [{"name": "a.example.com", "timeoutSeconds": 3},
                          {"name": "b.example.com", "timeoutSeconds": 3}]}
    out = smp(doc, patch, mwc)
    assert out["webhooks"] == [
        {"name": "a.example.com", "clientConfig": {"caBundle": "Q0E="}, "timeoutSeconds": 3},
        {"name": "b.example.com", "timeoutSeconds": 3}]
    removed = smp(out, {"$setElementOrder/webhooks": [{"name": "a.example.com"}],
                        "webhooks": [{"name": "b.example.com", "$patch": "delete"}]}, mwc)
    assert [w["name"] for w in removed["webhooks"]] == ["a.example.com"]


def test_an_element_order_on_an_unkeyed_list_of_objects_is_no_error() -> None:
    doc = {"spec": {"template": {"spec": {"tolerations": [{"key": "a"}]}}}}
    patch = {"spec": {"template": {"spec": {"$setElementOrder/tolerations": [{"key": "a"}],
                                            "tolerations": [{"key": "a"}]}}}}
    assert smp(doc, patch)["spec"]["template"]["spec"]["tolerations"] == [{"key": "a"}]


def test_retain_keys_clears_unlisted_fields() -> None:
    doc = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = smp(doc, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_null_deletes_and_unkeyed_lists_are_replaced() -> None:
    doc = pod_template({"name": "app", "args": ["a", "b"], "command": ["x"]})
    out = smp(doc, pod_template({"name": "app", "args": ["c"], "command": None}))
    assert containers(out) == [{"name": "app", "args": ["c"]}]


def test_service_ports_merge_by_port() -> None:
    doc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = smp(doc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, SERVICE)
    assert out["spec"]["ports"][1] == {"port": 443, "name": "https", "targetPort": 8443}


def test_finalizers_union_and_delete_from_primitive_list() -> None:
    doc = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(doc, {"metadata": {"finalizers": ["c"]}})["metadata"]["finalizers"] == \
        ["a", "b", "c"]
    out = smp(doc, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_conditions_by_type_and_owner_references_by_uid() -> None:
    doc = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
           "status": {"conditions": [{"type": "Available", "status": "False"}]}}
    out = smp(doc, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
                    "status": {"conditions": [{"type": "Available", "status": "True"}]}})
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["1", "2"]
    assert out["status"]["conditions"] == [{"type": "Available", "status": "True"}]


def test_strategic_merge_on_a_custom_resource_is_415() -> None:
    with pytest.raises(APIStatusError) as err:
        smp({"spec": {}}, {"spec": {"a": 1}}, CR)
    assert err.value.status == 415
    assert err.value.body["reason"] == "UnsupportedMediaType"


def test_unknown_patch_type_is_415() -> None:
    with pytest.raises(APIStatusError) as err:
        apply_patch({}, {}, "text/plain", DEPLOY)
    assert err.value.status == 415


def test_merge_patch_replaces_lists_wholesale() -> None:
    doc = pod_template({"name": "app"}, {"name": "side"})
    out = apply_patch(doc, pod_template({"name": "only"}), "application/merge-patch+json", DEPLOY)
    assert containers(out) == [{"name": "only"}]


def test_json_patch_failure_is_422_and_bad_body_400() -> None:
    with pytest.raises(APIStatusError) as err:
        apply_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}],
                    "application/json-patch+json", DEPLOY)
    assert err.value.status == 422
    assert err.value.body["details"]["causes"][0]["message"]
    with pytest.raises(APIStatusError) as err:
        apply_patch({"a": 1}, {"op": "add"}, "application/json-patch+json", DEPLOY)
    assert err.value.status == 400


def test_patch_input_is_not_mutated() -> None:
    doc = pod_template({"name": "app", "image": "v1"})
    smp(doc, pod_template({"name": "app", "image": "v2"}))
    assert containers(doc)[0]["image"] == "v1"


_json = hs.recursive(
    hs.none() | hs.booleans() | hs.integers() | hs.text(max_size=5),
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=10,
)


@given(hs.dictionaries(hs.text(max_size=3), _json, max_size=4),
       hs.dictionaries(hs.text(max_size=3), _json, max_size=4))
def test_merge_patch_is_idempotent(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once


@given(hs.dictionaries(hs.text(max_size=3), _json, max_size=4), _json)
def test_strategic_merge_patch_never_crashes(doc: dict[str, Any], patch: Any) -> None:
    try:
        apply_patch(doc, patch, "application/strategic-merge-patch+json", DEPLOY)
    except APIStatusError as exc:
        assert exc.status in (400, 422)
