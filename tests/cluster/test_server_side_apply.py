"""Server-side apply through real clients: ``kubectl apply --server-side`` and Helm 4's
default install mode, against the embedded API server; bad apply requests change nothing."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import helm_sdkpy as helm
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.cluster.conftest import kubectl, raw
from webhook.cluster.runtime import RunningCluster

CHART = Path(__file__).resolve().parent.parent / "data" / "charts" / "web"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
_ids = itertools.count()

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web{extra}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: app, image: "{image}", ports: [{{containerPort: 8080}}]}}
"""


def manifest(image: str = "demo:v1", extra: str = "") -> str:
    return MANIFEST.format(image=image, extra=extra)


def get(cluster: RunningCluster, ns: str) -> dict[str, Any]:
    out = kubectl(cluster, "-n", ns, "get", "deployment", "web", "-o", "json",
                  "--show-managed-fields")
    assert out.returncode == 0, out.stderr
    obj: dict[str, Any] = json.loads(out.stdout)
    return obj


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"])


def test_kubectl_apply_server_side(api_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(api_cluster, "-n", ns, "apply", "--server-side", "-f", "-",
                  stdin=manifest(extra=", team: a"))
    assert out.returncode == 0 and "serverside-applied" in out.stdout, out.stderr
    obj = get(api_cluster, ns)
    assert managers(obj) == [("kubectl", "Apply")]
    assert obj["metadata"]["labels"] == {"app": "web", "team": "a"}

    assert kubectl(api_cluster, "-n", ns, "label", "deployment", "web", "owner=ops").returncode == 0
    out = kubectl(api_cluster, "-n", ns, "apply", "--server-side", "-f", "-", stdin=manifest())
    assert out.returncode == 0, out.stderr
    obj = get(api_cluster, ns)  # team left the configuration: removed; owner is kubectl-label's
    assert obj["metadata"]["labels"] == {"app": "web", "owner": "ops"}
    assert managers(obj) == [("kubectl", "Apply"), ("kubectl-label", "Update")]

    assert kubectl(api_cluster, "-n", ns, "scale", "deployment", "web",
                   "--replicas=5").returncode == 0
    out = kubectl(api_cluster, "-n", ns, "apply", "--server-side", "-f", "-",
                  stdin=manifest(image="demo:v2"))
    assert out.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas'
            in out.stderr) and "--force-conflicts" in out.stderr
    obj = get(api_cluster, ns)  # nothing changed
    assert obj["spec"]["replicas"] == 5
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:v1"

    out = kubectl(api_cluster, "-n", ns, "apply", "--server-side", "--force-conflicts", "-f",
                  "-", stdin=manifest(image="demo:v2"))
    assert out.returncode == 0, out.stderr
    obj = get(api_cluster, ns)
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:v2"
    assert ("kubectl", "Update") not in managers(obj)


def test_bad_apply_requests_change_nothing(api_cluster: RunningCluster, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    body = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web"}}).encode()
    for query, payload, headers, code, says in [
        ("", body, APPLY, 400, "must specify fieldManager"),
        ("?fieldManager=t", b"kind: Deployment\n", APPLY, 400,
         "apiVersion must be set in an apply configuration"),
        ("?fieldManager=t", b"- a list\n", APPLY, 400, "an apply configuration must be an object"),
        ("/status?fieldManager=t", body, APPLY, 415, "apply to a subresource is not supported"),
    ]:
        got, _, answer = raw(api_cluster, "PATCH", path + query, payload, headers)
        status = json.loads(answer)
        assert got == code and says in status["message"], status
        assert raw(api_cluster, "GET", path)[0] == 404


def test_apply_creates_with_201_and_applies_with_200(api_cluster: RunningCluster,
                                                     ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg?fieldManager=tool"
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"
    code, _, body = raw(api_cluster, "PATCH", path, doc, APPLY)
    assert code == 201 and json.loads(body)["data"] == {"a": "1"}
    code, _, body = raw(api_cluster, "PATCH", path, doc.replace(b"'1'", b"'2'"), APPLY)
    assert code == 200 and json.loads(body)["data"] == {"a": "2"}
    code, _, body = raw(api_cluster, "PATCH", path + "&dryRun=All",
                        doc.replace(b"'1'", b"'3'"), APPLY)
    assert code == 200 and json.loads(body)["data"] == {"a": "3"}
    code, _, body = raw(api_cluster, "GET", f"/api/v1/namespaces/{ns}/configmaps/cfg")
    assert json.loads(body)["data"] == {"a": "2"}  # the dry run stored nothing
    other = path.replace("fieldManager=tool", "fieldManager=other")
    code, _, body = raw(api_cluster, "PATCH", other, doc.replace(b"'1'", b"'4'"), APPLY)
    status = json.loads(body)
    assert code == 409 and status["reason"] == "Conflict"
    assert status["details"]["causes"] == [{
        "reason": "FieldManagerConflict", "message": 'conflict with "tool" using v1',
        "field": ".data.a"}]


def test_helm_installs_and_upgrades_with_server_side_apply(
        embedded_cluster: RunningCluster) -> None:
    ns = f"ssa{next(_ids)}"
    assert kubectl(embedded_cluster, "create", "namespace", ns).returncode == 0
    cfg = helm.Configuration(namespace=ns, kubeconfig=str(embedded_cluster.kubeconfig))
    api = k8s_config.new_client_from_config(config_file=str(embedded_cluster.kubeconfig))
    apps: Any = k8s.AppsV1Api(api)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        first = await helm.Install(cfg).run("web", str(CHART), wait=True, timeout=60,
                                            server_side_apply=True)
        second = await helm.Upgrade(cfg).run("web", str(CHART), values={"image": "demo:v2"},
                                             wait=True, timeout=60, server_side_apply="auto")
        return first, second

    try:
        first, second = asyncio.run(scenario())
        assert (first["apply_method"], second["apply_method"]) == ("ssa", "ssa")
        deploy = apps.read_namespaced_deployment("web", ns)
        assert deploy.spec.template.spec.containers[0].image == "demo:v2"
        assert deploy.status.available_replicas == 2
        # Helm names itself after the program (here the Python interpreter)
        assert [m.operation for m in deploy.metadata.managed_fields] == ["Apply"]
        asyncio.run(helm.Uninstall(cfg).run("web", wait=True, timeout=60))
    finally:
        api.close()
