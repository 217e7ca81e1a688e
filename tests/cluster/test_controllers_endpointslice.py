"""EndpointSlice controller decisions (pkg/controller/endpointslice, k8s-semantics §3.11)."""

from __future__ import annotations

from typing import Any

from webhook.cluster.controllers.endpointslice import (
    CONTROLLER_NAME,
    MAX_ENDPOINTS_PER_SLICE,
    desired_slices,
    find_port,
    reconcile,
)


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"},
                            "ports": [{"name": "http", "port": 80, "targetPort": "web",
                                       "protocol": "TCP"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid",
                         "labels": {"team": "a"}},
            "spec": base}


def pod(name: str, ip: str = "127.9.0.1", *, ready: bool = True, deleting: bool = False,
        phase: str = "Running", labels: dict[str, str] | None = None,
        port_name: str = "web", port: int = 8080) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"u-{name}",
                          "labels": labels if labels is not None else {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": md,
            "spec": {"nodeName": "local", "containers": [
                {"name": "c", "ports": [{"name": port_name, "containerPort": port}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_endpoint_conditions_follow_pod_readiness_and_termination():
    pods = [pod("a", "127.9.0.1"), pod("b", "127.9.0.2", ready=False),
            pod("c", "127.9.0.3", deleting=True), pod("d", "127.9.0.4", phase="Succeeded"),
            pod("e", ""), pod("f", "127.9.0.6", labels={"app": "other"})]
    [(ports, endpoints)] = desired_slices(service(), pods)
    assert ports == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    got = {e["targetRef"]["name"]: e["conditions"] for e in endpoints}
    assert got == {
        "a": {"ready": True, "serving": True, "terminating": False},
        "b": {"ready": False, "serving": False, "terminating": False},
        "c": {"ready": False, "serving": True, "terminating": True},
    }
    a = endpoints[0]
    assert a["addresses"] == ["127.9.0.1"]
    assert a["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "u-a"}
    assert a["nodeName"] == "local"


def test_publish_not_ready_addresses_marks_every_endpoint_ready():
    [(_, endpoints)] = desired_slices(service(publishNotReadyAddresses=True),
                                      [pod("b", ready=False)])
    assert endpoints[0]["conditions"] == {"ready": True, "serving": True, "terminating": False}


def test_named_target_ports_resolve_per_pod_and_group_endpoints_by_port():
    pods = [pod("a", "127.9.0.1", port=8080), pod("b", "127.9.0.2", port=9090),
            pod("c", "127.9.0.3", port_name="other")]  # c cannot resolve "web"
    slices = desired_slices(service(), pods)
    by_port = {tuple(p["port"] for p in ports): [e["targetRef"]["name"] for e in eps]
               for ports, eps in slices}
    assert by_port == {(8080,): ["a"], (9090,): ["b"], (): ["c"]}


def test_find_port_numbers_and_defaults():
    p = pod("a")
    assert find_port(p, {"port": 80, "targetPort": 8081}) == 8081
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 80, "targetPort": "web", "protocol": "UDP"}) is None


def test_slices_hold_at_most_100_endpoints():
    pods = [pod(f"p{i:03}", f"127.9.{i // 250}.{i % 250 + 1}") for i in range(230)]
    sizes = [len(eps) for _, eps in desired_slices(service(), pods)]
    assert sizes == [MAX_ENDPOINTS_PER_SLICE, MAX_ENDPOINTS_PER_SLICE, 30]


def test_reconcile_creates_labelled_owned_slices_then_updates_in_place_then_deletes_extras():
    svc = service()
    changes = reconcile(svc, [pod("a")], [])
    [created] = changes.create
    assert created["metadata"]["generateName"] == "web-"
    assert created["metadata"]["labels"] == {
        "team": "a", "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert created["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid",
        "controller": True, "blockOwnerDeletion": True}]
    assert created["addressType"] == "IPv4"
    stored = {**created, "metadata": {**created["metadata"], "name": "web-abcde"}}
    assert reconcile(svc, [pod("a")], [stored]).empty
    changes = reconcile(svc, [pod("a", ready=False)], [stored])
    [updated] = changes.update
    assert updated["metadata"]["name"] == "web-abcde"
    assert updated["endpoints"][0]["conditions"]["ready"] is False
    extra = {**stored, "metadata": {**stored["metadata"], "name": "web-zzzzz"}}
    assert reconcile(svc, [pod("a")], [stored, extra]).delete == ("web-zzzzz",)


def test_a_service_without_endpoints_keeps_one_placeholder_slice():
    changes = reconcile(service(), [], [])
    [placeholder] = changes.create
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []


def test_services_without_selector_or_of_type_external_name_are_not_managed():
    svc = service()
    del svc["spec"]["selector"]
    assert reconcile(svc, [pod("a")], []).empty
    assert reconcile(service(type="ExternalName"), [pod("a")], []).empty


def test_slices_not_managed_by_the_controller_are_left_alone():
    foreign = {"metadata": {"name": "web-manual", "labels": {
        "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "me"}},
        "endpoints": [], "ports": []}
    changes = reconcile(service(), [pod("a")], [foreign])
    assert changes.delete == () and len(changes.create) == 1
