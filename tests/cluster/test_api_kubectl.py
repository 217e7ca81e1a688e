"""kubectl 1.32 against the embedded API server (no workload controllers running)."""

from __future__ import annotations

import json

import yaml

from tests.cluster.conftest import kubectl
from webhook.cluster.runtime import RunningCluster

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: demo:v1
        ports: [{{containerPort: 8080}}]
"""


def get_json(cluster: RunningCluster, *args: str) -> dict:  # type: ignore[type-arg]
    out = kubectl(cluster, "get", *args, "-o", "json", check=True)
    result: dict = json.loads(out.stdout)  # type: ignore[type-arg]
    return result


def test_apply_get_and_client_side_apply_update(api_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns, replicas=2))
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/web created" in out.stdout
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns, replicas=3))
    assert "deployment.apps/web configured" in out.stdout, out.stderr
    d = get_json(api_cluster, "-n", ns, "deployment", "web")
    assert d["spec"]["replicas"] == 3 and d["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]
    y = yaml.safe_load(kubectl(api_cluster, "-n", ns, "get", "deploy", "web", "-o",
                               "yaml").stdout)
    assert y["kind"] == "Deployment" and y["spec"]["strategy"]["type"] == "RollingUpdate"
    table = kubectl(api_cluster, "-n", ns, "get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/3"]


def test_unknown_field_is_refused_by_default_validation(api_cluster: RunningCluster,
                                                        ns: str) -> None:
    bad = MANIFEST.format(ns=ns, replicas=1).replace("  replicas: 1", "  replicaz: 1")
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=bad)
    assert out.returncode != 0
    assert 'unknown field "spec.replicaz"' in out.stderr
    assert kubectl(api_cluster, "-n", ns, "get", "deploy", "web").returncode != 0


def test_edit_verbs(api_cluster: RunningCluster, ns: str) -> None:
    kubectl(api_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns, replicas=2),
            check=True)
    kubectl(api_cluster, "-n", ns, "set", "image", "deployment/web", "app=demo:v2", check=True)
    kubectl(api_cluster, "-n", ns, "annotate", "deployment", "web", "team=shop", check=True)
    kubectl(api_cluster, "-n", ns, "label", "deployment", "web", "tier=front", check=True)
    kubectl(api_cluster, "-n", ns, "scale", "deployment", "web", "--replicas=4", check=True)
    kubectl(api_cluster, "-n", ns, "patch", "deployment", "web", "--type=merge", "-p",
            '{"spec":{"minReadySeconds":5}}', check=True)
    kubectl(api_cluster, "-n", ns, "patch", "deployment", "web", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]', check=True)
    d = get_json(api_cluster, "-n", ns, "deployment", "web")
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "demo:v2" and c["ports"] == [{"containerPort": 8080,
                                                        "protocol": "TCP"}]
    assert d["metadata"]["annotations"]["team"] == "shop"
    assert d["metadata"]["labels"] == {"tier": "front"}
    assert d["spec"]["replicas"] == 4 and d["spec"]["minReadySeconds"] == 5
    assert d["spec"]["revisionHistoryLimit"] == 3


def test_replace_with_a_stale_resource_version_conflicts(api_cluster: RunningCluster,
                                                         ns: str) -> None:
    kubectl(api_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns, replicas=2),
            check=True)
    stale = get_json(api_cluster, "-n", ns, "deployment", "web")
    kubectl(api_cluster, "-n", ns, "scale", "deployment", "web", "--replicas=5", check=True)
    stale["spec"]["replicas"] = 1
    out = kubectl(api_cluster, "replace", "-f", "-", stdin=json.dumps(stale))
    assert out.returncode != 0
    assert "Operation cannot be fulfilled on deployments.apps \"web\"" in out.stderr
    assert "the object has been modified" in out.stderr
    assert get_json(api_cluster, "-n", ns, "deployment", "web")["spec"]["replicas"] == 5


def test_errors_name_the_problem(api_cluster: RunningCluster, ns: str) -> None:
    out = kubectl(api_cluster, "-n", ns, "get", "deployment", "missing")
    assert out.returncode != 0
    assert 'deployments.apps "missing" not found' in out.stderr
    bad = MANIFEST.format(ns=ns, replicas=1).replace("labels: {app: web}", "labels: {app: x}")
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=bad)
    assert 'The Deployment "web" is invalid' in out.stderr
    assert "spec.template.metadata.labels" in out.stderr


def test_delete(api_cluster: RunningCluster, ns: str) -> None:
    kubectl(api_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns, replicas=2),
            check=True)
    out = kubectl(api_cluster, "-n", ns, "delete", "deployment", "web")
    assert out.returncode == 0 and 'deployment.apps "web" deleted' in out.stdout
    assert get_json(api_cluster, "-n", ns, "deployments")["items"] == []
