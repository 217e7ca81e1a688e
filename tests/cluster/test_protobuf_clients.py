"""Clients that send protobuf bodies, for real: kubectl's generator commands and Helm (its
release records are Secrets written by client-go in protobuf). Objects are read back through
the official client; a body that does not decode is a 400 that stores nothing."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from pathlib import Path
from typing import Any

import helm_sdkpy as helm
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.cluster.conftest import kubectl, raw
from tests.cluster.protobuf_encode import encode, ld, unknown
from webhook.cluster.protobuf import PROTOBUF
from webhook.cluster.runtime import RunningCluster

CHART = Path(__file__).resolve().parent.parent / "data" / "charts" / "web"
_ids = itertools.count()


def ok(cluster: RunningCluster, *args: str) -> str:
    out = kubectl(cluster, *args)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def get(cluster: RunningCluster, ns: str, what: str) -> Any:
    return json.loads(ok(cluster, "-n", ns, "get", what, "-o", "json"))


def test_kubectl_generator_commands(embedded_cluster: RunningCluster) -> None:
    ns = f"gen{next(_ids)}"
    assert ok(embedded_cluster, "create", "namespace", ns).strip() == f"namespace/{ns} created"
    ok(embedded_cluster, "-n", ns, "create", "deployment", "web", "--image=demo:v1",
       "--replicas=2", "--port=8080")
    ok(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    deploy = get(embedded_cluster, ns, "deployment/web")
    assert deploy["spec"]["replicas"] == 2 and deploy["status"]["availableReplicas"] == 2
    assert deploy["spec"]["template"]["spec"]["containers"] == [{
        "name": "demo", "image": "demo:v1", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {}, "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}]

    ok(embedded_cluster, "-n", ns, "create", "deployment", "idle", "--image=demo:v1",
       "--replicas=0")
    assert get(embedded_cluster, ns, "deployment/idle")["spec"]["replicas"] == 0  # not 1

    ok(embedded_cluster, "-n", ns, "expose", "deployment", "web", "--port=80",
       "--target-port=8080")
    svc = get(embedded_cluster, ns, "service/web")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]

    ok(embedded_cluster, "-n", ns, "run", "one", "--image=demo:v1", "--labels=role=tool",
       "--env=MODE=test", "--", "serve", "--fast")
    pod = get(embedded_cluster, ns, "pod/one")
    assert pod["metadata"]["labels"] == {"role": "tool"}
    container = pod["spec"]["containers"][0]
    assert container["env"] == [{"name": "MODE", "value": "test"}]
    assert container["args"] == ["serve", "--fast"]

    ok(embedded_cluster, "-n", ns, "create", "configmap", "cm", "--from-literal=a=1")
    ok(embedded_cluster, "-n", ns, "create", "secret", "generic", "s",
       "--from-literal=token=s3cret")
    ok(embedded_cluster, "-n", ns, "create", "serviceaccount", "robot")
    ok(embedded_cluster, "-n", ns, "create", "service", "clusterip", "other", "--tcp=81:8081")
    assert get(embedded_cluster, ns, "configmap/cm")["data"] == {"a": "1"}
    assert base64.b64decode(get(embedded_cluster, ns, "secret/s")["data"]["token"]) == b"s3cret"
    assert get(embedded_cluster, ns, "serviceaccount/robot")["metadata"]["name"] == "robot"
    assert get(embedded_cluster, ns, "service/other")["spec"]["ports"][0]["targetPort"] == 8081
    ok(embedded_cluster, "delete", "namespace", ns, "--wait=false")


def test_a_bad_protobuf_body_is_400_and_stores_nothing(api_cluster: RunningCluster,
                                                       ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    good = encode({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    for bad, says in [
        (good[:-3], "claims"),
        (unknown("v1", "ConfigMap", ld(1, ld(1, b"cm")) + ld(42, b"")),
         "field number 42 of ConfigMap is not in this cluster's schema"),
        (unknown("v1", "Node", b""), "v1/Node cannot be sent as protobuf"),
    ]:
        code, _, body = raw(api_cluster, "POST", path, bad, {"Content-Type": PROTOBUF})
        status = json.loads(body)
        assert code == 400 and status["reason"] == "BadRequest", status
        assert status["message"].startswith(f"the request body could not be decoded as "
                                             f"{PROTOBUF}: ") and says in status["message"]
        code, _, _ = raw(api_cluster, "GET", f"{path}/cm")
        assert code == 404
    code, _, body = raw(api_cluster, "POST", path, good, {"Content-Type": PROTOBUF})
    assert code == 201 and json.loads(body)["metadata"]["name"] == "cm"
    code, _, body = raw(api_cluster, "POST", path, b"\xa1", {"Content-Type": "application/cbor"})
    assert code == 415 and json.loads(body)["reason"] == "UnsupportedMediaType"


def test_a_protobuf_deployment_keeps_its_probe_handler_and_volume_source(
        api_cluster: RunningCluster, ns: str) -> None:
    """The bodies of embedded Go structs are not lost on the way in (they were dropped)."""
    container = {"name": "app", "image": "demo:v1",
                 "livenessProbe": {"handler": {"httpGet": {"path": "/healthz", "port": 8080}}},
                 "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/s"}]}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                  "metadata": {"labels": {"app": "web"}}, "spec": {
                      "containers": [container],
                      "volumes": [{"name": "scratch", "volumeSource": {"emptyDir": {}}}]}}}}
    code, _, body = raw(api_cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                        encode(deploy), {"Content-Type": PROTOBUF})
    assert code == 201, body
    stored = api_cluster.call(api_cluster.api.get("deployments.apps", ns, "web"))
    spec = stored["spec"]["template"]["spec"]
    assert spec["containers"][0]["livenessProbe"]["httpGet"] == {
        "path": "/healthz", "port": 8080, "scheme": "HTTP"}
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_kubectl_create_ingress_with_rules(api_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(api_cluster, "-n", ns, "create", "ingress", "shop", "--class=nginx",
                  "--rule=shop.example.com/=web:80", "--rule=shop.example.com/api*=api:8080",
                  "--annotation=team=web")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ingress.networking.k8s.io/shop created"
    ing = get(api_cluster, ns, "ingress/shop")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["rules"] == [{"host": "shop.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Exact",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "/api", "pathType": "Prefix",
         "backend": {"service": {"name": "api", "port": {"number": 8080}}}}]}}]


def test_helm_install_upgrade_uninstall(embedded_cluster: RunningCluster) -> None:
    ns = f"helm{next(_ids)}"
    ok(embedded_cluster, "create", "namespace", ns)
    cfg = helm.Configuration(namespace=ns, kubeconfig=str(embedded_cluster.kubeconfig))
    api = k8s_config.new_client_from_config(config_file=str(embedded_cluster.kubeconfig))
    apps: Any = k8s.AppsV1Api(api)
    core: Any = k8s.CoreV1Api(api)

    def image() -> str:
        return str(apps.read_namespaced_deployment("web", ns).spec.template.spec.containers[0]
                   .image)

    async def scenario() -> list[dict[str, Any]]:
        first = await helm.Install(cfg).run("web", str(CHART), wait=True, timeout=60)
        assert first["info"]["status"] == "deployed"
        deploy = apps.read_namespaced_deployment("web", ns)
        assert deploy.status.available_replicas == 2 and image() == "demo:v1"
        assert core.read_namespaced_service("web", ns).spec.ports[0].port == 80

        second = await helm.Upgrade(cfg).run("web", str(CHART), values={"image": "demo:v2"},
                                             wait=True, timeout=60)
        assert second["version"] == 2 and image() == "demo:v2"
        history: list[dict[str, Any]] = await helm.History(cfg).run("web")
        await helm.Uninstall(cfg).run("web", wait=True, timeout=60)
        return history

    try:
        history = asyncio.run(scenario())
        assert [(h["version"], h["info"]["status"]) for h in history] == [
            (1, "superseded"), (2, "deployed")]
        assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items
                if not d.metadata.deletion_timestamp] == []
        assert [s.metadata.name for s in core.list_namespaced_secret(
            ns, label_selector="owner=helm").items] == []
    finally:
        api.close()


def test_an_eviction_sent_as_protobuf(api_cluster: RunningCluster, ns: str) -> None:
    """client-go's Evict sends a policy/v1 Eviction in protobuf (what kubectl drain does)."""
    api_cluster.call(api_cluster.api.create("pods", ns, {
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}))
    body = encode({"apiVersion": "policy/v1", "kind": "Eviction",
                   "metadata": {"name": "p", "namespace": ns},
                   "deleteOptions": {"gracePeriodSeconds": 0}})
    code, _, out = raw(api_cluster, "POST", f"/api/v1/namespaces/{ns}/pods/p/eviction", body,
                       {"Content-Type": PROTOBUF})
    assert code == 201 and json.loads(out)["status"] == "Success", out
    code, _, _ = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/pods/p")
    assert code == 404  # a pending pod is deleted whatever the budget
    code, _, out = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/pods/p/eviction")
    assert code in (404, 405), out
