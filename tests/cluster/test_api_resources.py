"""Every resource the issue lists round-trips through the DynamicClient; deletecollection;
the admission rule matcher's table (resources, subresources, scope, selectors)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from webhook.cluster.admission.attributes import Attributes
from webhook.cluster.admission.match import resource_matches, rule_matches, webhook_matches
from webhook.cluster.auth.user import UserInfo
from webhook.cluster.resources import BUILTINS

POD_SPEC = {"containers": [{"name": "c", "image": "i"}]}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("v1", "Pod"): {"spec": POD_SPEC},
    ("v1", "Service"): {"spec": {"ports": [{"port": 80}]}},
    ("v1", "ConfigMap"): {"data": {"k": "v"}},
    ("v1", "Secret"): {"stringData": {"k": "v"}},
    ("v1", "Event"): {"involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Test"},
    ("v1", "ServiceAccount"): {},
    ("apps/v1", "ReplicaSet"): {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
        "metadata": {"labels": {"a": "b"}}, "spec": POD_SPEC}}},
    ("discovery.k8s.io/v1", "EndpointSlice"): {"addressType": "IPv4", "endpoints": []},
    ("networking.k8s.io/v1", "Ingress"): {"spec": {"defaultBackend": {"service": {
        "name": "web", "port": {"number": 80}}}}},
    ("networking.k8s.io/v1", "IngressClass"): {"spec": {"controller": "example.com/x"}},
    ("coordination.k8s.io/v1", "Lease"): {"spec": {"holderIdentity": "a"}},
    ("autoscaling/v2", "HorizontalPodAutoscaler"): {"spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1, "maxReplicas": 5}},
    ("batch/v1", "Job"): {"spec": {"template": {"spec": dict(POD_SPEC, restartPolicy="Never")}}},
    ("batch/v1", "CronJob"): {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
        "template": {"spec": dict(POD_SPEC, restartPolicy="OnFailure")}}}}},
    ("policy/v1", "PodDisruptionBudget"): {"spec": {"minAvailable": 1, "selector": {
        "matchLabels": {"a": "b"}}}},
    ("networking.k8s.io/v1", "NetworkPolicy"): {"spec": {"podSelector": {}, "ingress": [{
        "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 80}]}]}},
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): {"webhooks": [{
        "name": "v.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://127.0.0.1:1/validate"},
        "rules": [{"operations": ["CREATE"], "apiGroups": ["example.com"],
                   "apiVersions": ["v1"], "resources": ["nothings"]}]}]},
    ("events.k8s.io/v1", "Event"): {
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.com/test",
        "reportingInstance": "test-1", "action": "Testing", "reason": "Test", "type": "Normal",
        "regarding": {"kind": "Pod", "name": "p"}},
}


@pytest.mark.parametrize(("api_version", "kind"), sorted(BODIES))
def test_resource_round_trip(api_client: k8s.ApiClient, ns: str, api_version: str,
                             kind: str) -> None:
    dyn: Any = DynamicClient(api_client)
    res = dyn.resources.get(api_version=api_version, kind=kind)
    namespace = ns if res.namespaced else None
    body = {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": f"x-{ns}" if not res.namespaced else "x"}, **BODIES[
                (api_version, kind)]}
    for ref in ("involvedObject", "regarding"):  # an Event's object is in its namespace
        if ref in body:
            body[ref] = dict(body[ref], namespace=ns)
    created = res.create(body=body, namespace=namespace)
    assert created.metadata.uid
    name = created.metadata.name
    assert res.get(name=name, namespace=namespace).metadata.uid == created.metadata.uid
    res.patch(name=name, namespace=namespace, body={"metadata": {"labels": {"t": "1"}}},
              content_type="application/merge-patch+json")
    listed = res.get(namespace=namespace, label_selector="t=1")
    assert name in [i.metadata.name for i in listed.items]
    res.delete(name=name, namespace=namespace, grace_period_seconds=0)


def test_delete_collection_by_label(api_client: k8s.ApiClient, ns: str) -> None:
    core: Any = k8s.CoreV1Api(api_client)
    for i in range(4):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}", "labels": {
            "drop": "yes" if i < 3 else "no"}}})
    core.delete_collection_namespaced_config_map(ns, label_selector="drop=yes")
    left = core.list_namespaced_config_map(ns, label_selector="drop").items
    assert [c.metadata.name for c in left] == ["c3"]


@pytest.mark.parametrize(("pattern", "resource", "sub", "want"), [
    ("deployments", "deployments", "", True),
    ("deployments", "deployments", "status", False),
    ("deployments/status", "deployments", "status", True),
    ("deployments/*", "deployments", "scale", True),
    ("deployments/*", "deployments", "", False),
    ("*/scale", "replicasets", "scale", True),
    ("*", "pods", "", True),
    ("*", "pods", "status", False),
    ("*/*", "pods", "status", True),
])
def test_resource_patterns(pattern: str, resource: str, sub: str, want: bool) -> None:
    assert resource_matches(pattern, resource, sub) is want


DEPLOY = next(r for r in BUILTINS if r.kind == "Deployment")
NAMESPACE = next(r for r in BUILTINS if r.kind == "Namespace")
MWC = next(r for r in BUILTINS if r.kind == "MutatingWebhookConfiguration")


def attrs(op: str = "CREATE", rt: Any = DEPLOY, sub: str = "",
          old: dict[str, Any] | None = None) -> Attributes:
    return Attributes(op, rt, rt.version, sub, "shop" if rt.namespaced else "", "web", old,
                      UserInfo("u"), False)


RULE = {"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
        "resources": ["deployments"], "scope": "*"}


def test_rules_operations_groups_scope() -> None:
    assert rule_matches(RULE, attrs())
    assert not rule_matches(RULE, attrs("DELETE"))
    assert not rule_matches(RULE, attrs(sub="status"))  # status writes need deployments/status
    assert not rule_matches({**RULE, "scope": "Cluster"}, attrs())
    assert rule_matches({**RULE, "operations": ["*"], "apiGroups": ["*"]}, attrs("DELETE"))


def test_selectors_and_never_intercepted_kinds() -> None:
    hook = {"rules": [RULE], "objectSelector": {"matchLabels": {"on": "1"}},
            "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    labelled = {"metadata": {"labels": {"on": "1"}}}
    assert webhook_matches(hook, attrs(), labelled, {"env": "prod"})
    assert not webhook_matches(hook, attrs(), labelled, {"env": "dev"})
    assert not webhook_matches(hook, attrs(), {"metadata": {}}, {"env": "prod"})
    assert webhook_matches(hook, attrs("UPDATE", old=labelled), {"metadata": {}},
                           {"env": "prod"})  # the old object matches
    everything = {"rules": [{**RULE, "apiGroups": ["*"], "resources": ["*"]}]}
    assert not webhook_matches(everything, attrs(rt=MWC), {"metadata": {}}, None)
    ns_hook = {"rules": [{**RULE, "apiGroups": [""], "resources": ["namespaces"]}],
               "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    assert webhook_matches(ns_hook, attrs(rt=NAMESPACE),
                           {"metadata": {"labels": {"env": "prod"}}}, None)
