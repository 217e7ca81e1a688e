"""kubectl rollout status / wait against the whole embedded cluster (controllers + kubelet),
through the shared ``embedded_cluster`` fixture."""

from __future__ import annotations

import itertools
import json
import subprocess
import time

import pytest

from webhook.cluster.runtime import RunningCluster

_ids = itertools.count()
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: "demo:v1", ports: [{{containerPort: 8080}}]}}]
"""


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
                          capture_output=True, text=True, input=stdin, timeout=90, check=False)


@pytest.mark.slow
def test_rollout_status_wait_and_set_image(embedded_cluster: RunningCluster) -> None:
    ns = f"kw{next(_ids)}"
    assert kubectl(embedded_cluster, "apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).returncode == 0
    out = kubectl(embedded_cluster, "apply", "-f", "-", stdin=MANIFEST.format(ns=ns))
    assert out.returncode == 0, out.stderr
    out = kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web",
                  "--timeout=60s")
    assert out.returncode == 0 and "successfully rolled out" in out.stdout, out.stderr
    out = kubectl(embedded_cluster, "-n", ns, "wait", "--for=condition=Available",
                  "deployment/web", "--timeout=30s")
    assert out.returncode == 0 and "condition met" in out.stdout, out.stderr
    assert kubectl(embedded_cluster, "-n", ns, "set", "image", "deployment/web",
                   "app=demo:v2").returncode == 0
    out = kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web",
                  "--timeout=60s")
    assert out.returncode == 0, out.stderr
    rs = json.loads(kubectl(embedded_cluster, "-n", ns, "get", "rs", "-o", "json").stdout)
    replicas = sorted((r["spec"]["template"]["spec"]["containers"][0]["image"],
                       r["spec"]["replicas"]) for r in rs["items"])
    assert replicas == [("demo:v1", 0), ("demo:v2", 3)]
    out = kubectl(embedded_cluster, "-n", ns, "delete", "deployment", "web", "--wait=true",
                  "--timeout=30s")
    assert out.returncode == 0, out.stderr
    deadline = time.monotonic() + 10
    while True:  # the garbage collector takes the ReplicaSets (and their pods) in background
        left = json.loads(kubectl(embedded_cluster, "-n", ns, "get", "rs,pods", "-o",
                                  "json").stdout)["items"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [i["metadata"]["name"] for i in left if not i["metadata"].get(
        "deletionTimestamp")] == []
