"""ValidatingWebhookConfigurations in the admission chain, as kube-apiserver calls them: after
every mutation and the object's own validation, all matching webhooks at once, with the
mutating chain's matching, failurePolicy and timeouts; denials and warnings as kubectl shows
them; DELETE and UPDATE validated too."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.cluster.conftest import deployment, kubectl, raw
from tests.cluster.fake_webhook import FakeWebhook, allow, deny
from tests.cluster.test_admission_chain import expose, register
from webhook.cluster.runtime import RunningCluster

VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
VWC_KEY = "validatingwebhookconfigurations.admissionregistration.k8s.io"
MWC_KEY = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
_ids = itertools.count()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def start_hook(cluster: RunningCluster, ca: trustme.CA, ns: str, name: str) -> FakeWebhook:
    fake = FakeWebhook(cluster, ca, f"{name}.{ns}.svc").start()
    expose(cluster, ns, fake.port, name)
    return fake


@pytest.fixture
def hooks(api_cluster: RunningCluster, ca: trustme.CA) -> Iterator[tuple[str, FakeWebhook,
                                                                         FakeWebhook]]:
    ns = f"vhooks{next(_ids)}"
    api_cluster.call(api_cluster.api.create("namespaces", None, {"metadata": {"name": ns}}))
    one, two = start_hook(api_cluster, ca, ns, "one"), start_hook(api_cluster, ca, ns, "two")
    yield ns, one, two
    one.stop()
    two.stop()
    for key in (VWC_KEY, MWC_KEY):
        for cfg in api_cluster.call(api_cluster.api.list(key))[0]:
            api_cluster.call(api_cluster.api.delete(key, None, cfg["metadata"]["name"]))


def validating(cluster: RunningCluster, target_ns: str, hook_ns: str,
               *hooks: tuple[str, FakeWebhook, str],
               operations: tuple[str, ...] = ("CREATE", "UPDATE", "DELETE"),
               timeout: int = 5,
               resources: tuple[str, ...] = ("deployments", "deployments/scale")) -> str:
    """One configuration with a webhook per (service name, fake, failurePolicy); the webhook
    names are ``<service>.<configuration>.canarist.test``."""
    config = f"vcfg-{next(_ids)}"
    webhooks = [{
        "name": f"{svc}.{config}.canarist.test",
        "clientConfig": {"service": {"name": svc, "namespace": hook_ns, "path": "/validate"},
                         "caBundle": fake.ca_bundle},
        "rules": [{"operations": list(operations), "apiGroups": ["apps"],
                   "apiVersions": ["v1"], "resources": list(resources)}],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": target_ns}},
        "failurePolicy": failure, "timeoutSeconds": timeout, "sideEffects": "None",
        "admissionReviewVersions": ["v1"]} for svc, fake, failure in hooks]
    code, _, out = raw(cluster, "POST", VWC, {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": config},
        "webhooks": webhooks})
    assert code == 201, out
    return config


def create(cluster: RunningCluster, ns: str, body: dict[str, Any]
           ) -> tuple[int, dict[str, str], dict[str, Any]]:
    code, headers, out = raw(cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body)
    return code, headers, json.loads(out)


def test_validation_sees_the_mutated_valid_object_and_can_refuse(
        api_cluster: RunningCluster, hooks: tuple[str, FakeWebhook, FakeWebhook],
        ns: str) -> None:
    hook_ns, one, two = hooks
    one.answer = allow([{"op": "add", "path": "/metadata/labels", "value": {"stamped": "yes"}}])
    register(api_cluster, ns, {"service": {"name": "one", "namespace": hook_ns,
                                           "path": "/mutate"}, "caBundle": one.ca_bundle})
    two.answer = deny("deployments need an owner label")
    config = validating(api_cluster, ns, hook_ns, ("two", two, "Fail"))
    code, _, status = create(api_cluster, ns, deployment())
    assert code == 403, status
    assert status["message"] == (f'admission webhook "two.{config}.canarist.test" denied the '
                                 "request: deployments need an owner label")
    seen = two.received[-1]["object"]
    assert seen["metadata"]["labels"] == {"stamped": "yes"}  # after the mutation
    assert seen["metadata"]["uid"] and seen["metadata"]["generation"] == 1  # after BeforeCreate
    code, _, _ = raw(api_cluster, "GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert code == 404


def test_webhooks_are_called_at_once_and_all_warnings_come_back(
        api_cluster: RunningCluster, hooks: tuple[str, FakeWebhook, FakeWebhook],
        ns: str) -> None:
    hook_ns, one, two = hooks
    one.answer, two.answer = allow(warnings=["first"]), allow(warnings=["second"])
    one.delay = two.delay = 1.0
    validating(api_cluster, ns, hook_ns, ("one", one, "Fail"), ("two", two, "Fail"))
    code, _headers, obj = create(api_cluster, ns, deployment())
    assert code == 201, obj
    (began_one, ended_one), (began_two, ended_two) = one.spans[-1], two.spans[-1]
    # called at once: each was asked before the other answered (not one after the other)
    assert max(began_one, began_two) < min(ended_one, ended_two), (one.spans, two.spans)
    out = kubectl(api_cluster, "-n", ns, "label", "deployment", "web", "x=y")
    assert out.returncode == 0, out.stderr
    assert "Warning: first" in out.stderr and "Warning: second" in out.stderr


def test_failure_policy_and_invalid_answers(api_cluster: RunningCluster,
                                            hooks: tuple[str, FakeWebhook, FakeWebhook],
                                            ns: str) -> None:
    hook_ns, one, two = hooks
    one.stop()  # down
    validating(api_cluster, ns, hook_ns, ("one", one, "Ignore"))
    assert create(api_cluster, ns, deployment("a"))[0] == 201
    config = validating(api_cluster, ns, hook_ns, ("one", one, "Fail"))
    code, _, status = create(api_cluster, ns, deployment("b"))
    assert code == 500 and status["reason"] == "InternalError"
    assert status["message"].startswith(f'Internal error occurred: failed calling webhook '
                                        f'"one.{config}.canarist.test": failed to call webhook')
    for cfg in api_cluster.call(api_cluster.api.list(VWC_KEY))[0]:
        api_cluster.call(api_cluster.api.delete(VWC_KEY, None, cfg["metadata"]["name"]))
    two.answer = allow([{"op": "add", "path": "/metadata/labels", "value": {"no": "way"}}])
    validating(api_cluster, ns, hook_ns, ("two", two, "Fail"))
    code, _, status = create(api_cluster, ns, deployment("c"))
    assert code == 500
    assert status["message"].endswith("received invalid webhook response: validating webhook "
                                      "may not return response.patch")


def test_updates_and_deletes_are_validated(api_cluster: RunningCluster,
                                           hooks: tuple[str, FakeWebhook, FakeWebhook],
                                           ns: str) -> None:
    hook_ns, one, _ = hooks
    assert create(api_cluster, ns, deployment())[0] == 201
    validating(api_cluster, ns, hook_ns, ("one", one, "Fail"), operations=("UPDATE", "DELETE"))
    one.answer = deny("frozen")
    out = kubectl(api_cluster, "-n", ns, "scale", "deployment", "web", "--replicas=4")
    assert out.returncode != 0 and 'denied the request: frozen' in out.stderr
    out = kubectl(api_cluster, "-n", ns, "delete", "deployment", "web")
    assert out.returncode != 0 and "denied the request: frozen" in out.stderr
    deleted = one.received[-1]
    assert deleted["operation"] == "DELETE" and deleted["object"] is None
    assert deleted["oldObject"]["metadata"]["name"] == "web"
    scaled = one.received[-2]
    assert scaled["subResource"] == "scale"
    assert scaled["kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    one.answer = allow()
    assert kubectl(api_cluster, "-n", ns, "delete", "deployment", "web").returncode == 0


def test_a_scale_is_validated_only_by_rules_that_name_it(
        api_cluster: RunningCluster, hooks: tuple[str, FakeWebhook, FakeWebhook],
        ns: str) -> None:
    hook_ns, one, two = hooks
    assert create(api_cluster, ns, deployment())[0] == 201
    validating(api_cluster, ns, hook_ns, ("one", one, "Fail"), resources=("deployments",))
    validating(api_cluster, ns, hook_ns, ("two", two, "Fail"), resources=("*/scale",))
    one.answer = deny("main resource only")
    out = kubectl(api_cluster, "-n", ns, "scale", "deployment", "web", "--replicas=4")
    assert out.returncode == 0, out.stderr
    assert [r["operation"] for r in one.received] == []
    assert [(r["kind"]["kind"], r["subResource"]) for r in two.received] == [("Scale", "scale")]


def test_a_validating_configuration_is_validated(api_cluster: RunningCluster) -> None:
    code, _, out = raw(api_cluster, "POST", VWC, {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "bad"},
        "webhooks": [{"name": "short", "clientConfig": {"url": "http://x"},
                      "admissionReviewVersions": ["v1"]}]})
    status = json.loads(out)
    assert code == 422, status
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"webhooks[0].name", "webhooks[0].clientConfig.url",
            "webhooks[0].sideEffects"} <= fields
    code, _, out = raw(api_cluster, "POST", VWC, {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "bundle"},
        "webhooks": [{"name": "a.b.c", "clientConfig": {"url": "https://x",
                                                        "caBundle": "not base64!"},
                      "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
    status = json.loads(out)
    assert code == 400, status
    assert status["message"] == ('ValidatingWebhookConfiguration in version "v1" cannot be '
                                 'handled as a ValidatingWebhookConfiguration: illegal base64 '
                                 'data at input byte 3')
