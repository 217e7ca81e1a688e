"""The admission chain as kube-apiserver runs it (k8s-semantics §2), against a real HTTPS
webhook: service references resolved on loopback, caBundle + SAN verification, selectors,
failurePolicy, timeouts, JSON patches, denials and warnings as kubectl shows them."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.cluster.conftest import deployment, kubectl, raw
from tests.cluster.fake_webhook import FakeWebhook, allow, deny
from webhook.cluster.runtime import RunningCluster
from webhook.errors import APIStatusError

MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
_ids = itertools.count()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def hook_ns(api_cluster: RunningCluster) -> str:
    name = f"hooks{next(_ids)}"
    api_cluster.call(api_cluster.api.create("namespaces", None, {"metadata": {"name": name}}))
    return name


def expose(cluster: RunningCluster, ns: str, port: int, name: str = "hook") -> None:
    """A Service without a selector plus the EndpointSlice pointing at 127.0.0.1:port."""
    api = cluster.api
    cluster.call(api.create("services", ns, {"metadata": {"name": name}, "spec": {
        "ports": [{"port": 443, "targetPort": port}]}}))
    cluster.call(api.create("endpointslices.discovery.k8s.io", ns, {
        "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "", "port": port, "protocol": "TCP"}]}))


def register(cluster: RunningCluster, target_ns: str, client_config: dict[str, Any], *,
             failure: str = "Fail", timeout: int = 5, object_selector: dict[str, Any] | None
             = None, name: str | None = None) -> str:
    config = name or f"cfg-{next(_ids)}"
    body = {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": config},
            "webhooks": [{
                "name": f"{config}.canarist.test", "clientConfig": client_config,
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"],
                           "apiVersions": ["v1"], "resources": ["deployments"]}],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": target_ns}},
                "objectSelector": object_selector or {},
                "failurePolicy": failure, "timeoutSeconds": timeout, "sideEffects": "None",
                "admissionReviewVersions": ["v1"]}]}
    code, _, out = raw(cluster, "POST", MWC, body)
    assert code == 201, out
    return config


@pytest.fixture
def webhook(api_cluster: RunningCluster, ca: trustme.CA, hook_ns: str
            ) -> Iterator[FakeWebhook]:
    fake = FakeWebhook(api_cluster, ca, f"hook.{hook_ns}.svc").start()
    expose(api_cluster, hook_ns, fake.port)
    yield fake
    fake.stop()
    for cfg in api_cluster.call(api_cluster.api.list(
            "mutatingwebhookconfigurations.admissionregistration.k8s.io"))[0]:
        api_cluster.call(api_cluster.api.delete(
            "mutatingwebhookconfigurations.admissionregistration.k8s.io", None,
            cfg["metadata"]["name"]))


def service_ref(fake: FakeWebhook, ns: str) -> dict[str, Any]:
    return {"service": {"name": "hook", "namespace": ns, "path": "/mutate"},
            "caBundle": fake.ca_bundle}


def create(cluster: RunningCluster, ns: str, body: dict[str, Any]) -> tuple[int, dict[str, str],
                                                                            dict[str, Any]]:
    code, headers, out = raw(cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body)
    return code, headers, json.loads(out)


def test_good_san_passes_and_the_patch_is_applied(api_cluster: RunningCluster,
                                                  webhook: FakeWebhook, hook_ns: str,
                                                  ns: str) -> None:
    webhook.answer = allow([{"op": "add", "path": "/metadata/labels",
                             "value": {"stamped": "yes"}}])
    register(api_cluster, ns, service_ref(webhook, hook_ns), timeout=7)
    code, _, obj = create(api_cluster, ns, deployment())
    assert code == 201, obj
    assert obj["metadata"]["labels"] == {"stamped": "yes"}
    req = webhook.received[-1]
    assert req["operation"] == "CREATE" and req["namespace"] == ns and req["name"] == "web"
    assert req["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert req["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert "uid" not in req["object"]["metadata"]  # system fields are set after mutation
    assert req["object"]["spec"]["strategy"]["type"] == "RollingUpdate"  # defaults applied
    assert req["options"]["kind"] == "CreateOptions" and req["dryRun"] is False
    assert req["userInfo"]["username"] == "system:admin"
    assert webhook.queries[-1] == "timeout=7s"


def test_update_sends_the_old_object(api_cluster: RunningCluster, webhook: FakeWebhook,
                                     hook_ns: str, ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    create(api_cluster, ns, deployment())
    code, _, _ = raw(api_cluster, "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web",
                     {"spec": {"replicas": 5}},
                     {"Content-Type": "application/merge-patch+json"})
    assert code == 200
    req = webhook.received[-1]
    assert req["operation"] == "UPDATE"
    assert req["oldObject"]["spec"]["replicas"] == 2 and req["object"]["spec"]["replicas"] == 5
    assert req["object"]["metadata"]["generation"] == 1  # not bumped yet, as upstream


def test_wrong_san_fails_closed_or_open_per_failure_policy(
        api_cluster: RunningCluster, ca: trustme.CA, hook_ns: str, ns: str) -> None:
    fake = FakeWebhook(api_cluster, ca, "someone-else.other.svc").start()
    try:
        expose(api_cluster, hook_ns, fake.port)
        cfg = register(api_cluster, ns, service_ref(fake, hook_ns), failure="Fail")
        code, _, status = create(api_cluster, ns, deployment())
        assert code == 500 and status["reason"] == "InternalError"
        assert status["message"].startswith(
            f'Internal error occurred: failed calling webhook "{cfg}.canarist.test": '
            f'failed to call webhook: Post "https://hook.{hook_ns}.svc:443/mutate?timeout=5s"')
        assert "certificate" in status["message"]
        raw(api_cluster, "DELETE", f"{MWC}/{cfg}")
        register(api_cluster, ns, service_ref(fake, hook_ns), failure="Ignore")
        code, _, obj = create(api_cluster, ns, deployment())
        assert code == 201, obj
        assert fake.received == []  # the handshake never completed
    finally:
        fake.stop()
        for c in api_cluster.call(api_cluster.api.list(
                "mutatingwebhookconfigurations.admissionregistration.k8s.io"))[0]:
            raw(api_cluster, "DELETE", f"{MWC}/{c['metadata']['name']}")


def test_down_webhook_per_failure_policy(api_cluster: RunningCluster, webhook: FakeWebhook,
                                         hook_ns: str, ns: str) -> None:
    cfg = register(api_cluster, ns, service_ref(webhook, hook_ns))
    webhook.stop()
    code, _, status = create(api_cluster, ns, deployment())
    assert code == 500 and f'failed calling webhook "{cfg}.canarist.test"' in status["message"]
    code, _, _ = raw(api_cluster, "GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert code == 404  # nothing half-applied
    raw(api_cluster, "DELETE", f"{MWC}/{cfg}")
    register(api_cluster, ns, service_ref(webhook, hook_ns), failure="Ignore")
    code, _, _ = create(api_cluster, ns, deployment())
    assert code == 201


def test_timeout_seconds_bounds_the_call(api_cluster: RunningCluster, webhook: FakeWebhook,
                                         hook_ns: str, ns: str) -> None:
    webhook.delay = 1.5
    register(api_cluster, ns, service_ref(webhook, hook_ns), timeout=1)
    code, _, status = create(api_cluster, ns, deployment())
    assert code == 500 and "context deadline exceeded" in status["message"]


def test_denial_and_warnings_reach_kubectl(api_cluster: RunningCluster, webhook: FakeWebhook,
                                           hook_ns: str, ns: str) -> None:
    cfg = register(api_cluster, ns, service_ref(webhook, hook_ns))
    webhook.answer = deny("canarist.io/steps[2].setWeight: must be between 0 and 100")
    manifest = json.dumps({**deployment(), "metadata": {"name": "web", "namespace": ns}})
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=manifest)
    assert out.returncode != 0
    assert (f'admission webhook "{cfg}.canarist.test" denied the request: '
            "canarist.io/steps[2].setWeight: must be between 0 and 100") in out.stderr
    webhook.answer = allow(warnings=["release held for canary steps"])
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=manifest)
    assert out.returncode == 0, out.stderr
    assert "Warning: release held for canary steps" in out.stderr


def test_the_webhook_sees_who_asked_impersonated_or_by_token(
        api_cluster: RunningCluster, webhook: FakeWebhook, hook_ns: str, ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    kubectl(api_cluster, "-n", ns, "create", "rolebinding", "devs-edit", "--clusterrole=edit",
            "--group=devs", f"--serviceaccount={ns}:deployer", check=True)
    manifest = json.dumps({**deployment("imp"), "metadata": {"name": "imp", "namespace": ns}})
    out = kubectl(api_cluster, "apply", "-f", "-", "--as=jane", "--as-group=devs",
                  "--as-uid=7", stdin=manifest)
    assert out.returncode == 0, out.stderr
    assert webhook.received[-1]["userInfo"] == {"username": "jane", "uid": "7",
                                                "groups": ["devs", "system:authenticated"]}
    kubectl(api_cluster, "-n", ns, "create", "sa", "deployer", check=True)
    token = kubectl(api_cluster, "-n", ns, "create", "token", "deployer",
                    check=True).stdout.strip()
    out = kubectl(api_cluster, "-n", ns, "label", "deployment/imp", "by=token",
                  "--token", token)
    assert out.returncode == 0, out.stderr
    seen = webhook.received[-1]
    assert seen["operation"] == "UPDATE"
    assert seen["userInfo"]["username"] == f"system:serviceaccount:{ns}:deployer"
    assert seen["userInfo"]["groups"] == ["system:serviceaccounts",
                                          f"system:serviceaccounts:{ns}", "system:authenticated"]
    assert seen["userInfo"]["uid"] and seen["userInfo"]["extra"][
        "authentication.kubernetes.io/credential-id"][0].startswith("JTI=")


def test_object_selector_matches_object_or_old_object(api_cluster: RunningCluster,
                                                      webhook: FakeWebhook, hook_ns: str,
                                                      ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns),
             object_selector={"matchLabels": {"canarist.io/enabled": "true"}})
    create(api_cluster, ns, deployment("plain"))
    assert webhook.received == []
    opted = deployment("opted")
    opted["metadata"]["labels"] = {"canarist.io/enabled": "true"}
    create(api_cluster, ns, opted)
    assert [r["name"] for r in webhook.received] == ["opted"]
    # removing the label still calls the webhook: the old object matches
    raw(api_cluster, "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/opted",
        {"metadata": {"labels": None}}, {"Content-Type": "application/merge-patch+json"})
    assert [r["name"] for r in webhook.received] == ["opted", "opted"]


def test_patch_that_fails_to_apply_is_500_even_when_ignored(
        api_cluster: RunningCluster, webhook: FakeWebhook, hook_ns: str, ns: str) -> None:
    webhook.answer = allow([{"op": "add", "path": "/metadata/missing/deeper", "value": "x"}])
    register(api_cluster, ns, service_ref(webhook, hook_ns), failure="Ignore")
    code, _, status = create(api_cluster, ns, deployment())
    assert code == 500 and status["reason"] == "InternalError"


def test_dry_run_is_sent_to_side_effect_free_webhooks(api_cluster: RunningCluster,
                                                      webhook: FakeWebhook, hook_ns: str,
                                                      ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    code, _, _ = raw(api_cluster, "POST",
                     f"/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All", deployment())
    assert code == 201 and webhook.received[-1]["dryRun"] is True
    code, _, _ = raw(api_cluster, "GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert code == 404


def test_url_client_config_with_an_ip_san(api_cluster: RunningCluster, ca: trustme.CA,
                                          ns: str) -> None:
    fake = FakeWebhook(api_cluster, ca, "127.0.0.1").start()
    try:
        fake.answer = allow([{"op": "add", "path": "/metadata/annotations",
                              "value": {"via": "url"}}])
        cfg = register(api_cluster, ns, {"url": f"https://127.0.0.1:{fake.port}/mutate",
                                         "caBundle": fake.ca_bundle})
        code, _, obj = create(api_cluster, ns, deployment())
        assert code == 201 and obj["metadata"]["annotations"] == {"via": "url"}
        raw(api_cluster, "DELETE", f"{MWC}/{cfg}")
    finally:
        fake.stop()


def test_invalid_configuration_is_refused(api_cluster: RunningCluster) -> None:
    body = {"metadata": {"name": "bad"}, "webhooks": [{
        "name": "short", "clientConfig": {"url": "http://x/mutate"},
        "timeoutSeconds": 31, "admissionReviewVersions": ["v1"]}]}
    code, _, out = raw(api_cluster, "POST", MWC, body)
    fields = {c["field"] for c in json.loads(out)["details"]["causes"]}
    assert code == 422
    assert fields == {"webhooks[0].name", "webhooks[0].clientConfig.url",
                      "webhooks[0].sideEffects", "webhooks[0].timeoutSeconds"}


D = "deployments.apps"


def _status_annotation_write(api: Any, ns: str) -> Any:
    """A write that no webhook sees (the status subresource), committed at once."""

    async def write() -> None:
        current = await api.get(D, ns, "web")
        current["metadata"].setdefault("annotations", {})["fast"] = "yes"
        await api.update(D, ns, current, subresource="status")
    return write()


def test_a_write_waiting_for_its_webhook_does_not_undo_a_write_made_meanwhile(
        api_cluster: RunningCluster, webhook: FakeWebhook, hook_ns: str, ns: str) -> None:
    """GuaranteedUpdate: the resourceVersion is checked again when the write is stored, after
    admission; a patch is applied again to the object as it is then."""
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    create(api_cluster, ns, deployment())
    webhook.delay = 0.4
    api = api_cluster.api

    async def race() -> dict[str, Any]:
        slow = asyncio.create_task(api.patch(D, ns, "web", {"spec": {"replicas": 5}}, "merge"))
        await asyncio.sleep(0.2)  # the patch now waits for the webhook
        await _status_annotation_write(api, ns)
        return await slow

    result = api_cluster.call(race())
    assert result["spec"]["replicas"] == 5
    assert result["metadata"]["annotations"]["fast"] == "yes"  # not undone by the patch
    assert len([r for r in webhook.received if r["operation"] == "UPDATE"]) == 2  # applied again


def test_a_conditional_update_is_a_conflict_when_the_object_moved_during_admission(
        api_cluster: RunningCluster, webhook: FakeWebhook, hook_ns: str, ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    create(api_cluster, ns, deployment())
    webhook.delay = 0.4
    api = api_cluster.api

    async def race() -> int:
        body = await api.get(D, ns, "web")  # carries its resourceVersion: a precondition
        body["spec"]["replicas"] = 7
        slow = asyncio.create_task(api.update(D, ns, body))
        await asyncio.sleep(0.2)
        await _status_annotation_write(api, ns)
        try:
            await slow
        except APIStatusError as exc:
            return exc.status
        return 200

    assert api_cluster.call(race()) == 409
    stored = api_cluster.call(api.get(D, ns, "web"))
    assert stored["spec"]["replicas"] == 2 and stored["metadata"]["annotations"]["fast"] == "yes"


def test_a_scale_waiting_for_admission_keeps_a_write_made_meanwhile(
        api_cluster: RunningCluster, webhook: FakeWebhook, hook_ns: str, ns: str) -> None:
    register(api_cluster, ns, service_ref(webhook, hook_ns))
    create(api_cluster, ns, deployment())
    webhook.delay = 0.4
    api = api_cluster.api

    async def race() -> dict[str, Any]:
        scale = {"metadata": {"name": "web"}, "spec": {"replicas": 4}}
        slow = asyncio.create_task(api.update(D, ns, scale, subresource="scale"))
        await asyncio.sleep(0.2)  # the Deployment's write waits for the webhook
        await _status_annotation_write(api, ns)
        await slow
        return await api.get(D, ns, "web")

    stored = api_cluster.call(race())
    assert stored["spec"]["replicas"] == 4
    assert stored["metadata"]["annotations"]["fast"] == "yes"
