"""The workload controllers end to end over the real HTTPS API: kubectl 1.32 and the official
client against the whole embedded cluster (``embedded_cluster`` fixture).

What kubectl computes from the status the controllers write (``rollout status``, ``wait``,
``rollout history``/``undo``) is the proof that the status, conditions and revision annotations
have upstream's shape and meaning.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from webhook.cluster.runtime import RunningCluster

pytestmark = pytest.mark.slow
_names = itertools.count()

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: demo:v1
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe:
          httpGet: {{path: /healthz, port: http}}
          periodSeconds: 1
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def kubectl(cluster: RunningCluster, *args: str, stdin: str | None = None,
            ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
                            capture_output=True, text=True, input=stdin, timeout=90,
                            check=False)
    if ok and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr or result.stdout}")
    return result


@pytest.fixture
def ns(embedded_cluster: RunningCluster) -> str:
    name = f"ctl-e2e-{next(_names)}"
    kubectl(embedded_cluster, "apply", "-f", "-",
            stdin=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
    return name


@pytest.fixture
def client(embedded_cluster: RunningCluster) -> Iterator[k8s.ApiClient]:
    api = k8s_config.new_client_from_config(config_file=str(embedded_cluster.kubeconfig))
    try:
        yield api
    finally:
        api.close()


def apps(client: k8s.ApiClient) -> Any:
    """The typed APIs, as ``Any``: their models make every field optional."""
    return k8s.AppsV1Api(client)


def core(client: k8s.ApiClient) -> Any:
    return k8s.CoreV1Api(client)


def discovery(client: k8s.ApiClient) -> Any:
    return k8s.DiscoveryV1Api(client)


def until(check: Callable[[], Any], limit: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def versions(client: k8s.ApiClient, ns: str) -> list[str]:
    """What every ready pod of the namespace answers, asked over HTTP."""
    pods = core(client).list_namespaced_pod(ns, label_selector="app=web").items
    out = []
    for pod in pods:
        if pod.metadata.deletion_timestamp or not pod.status.pod_ip:
            continue
        try:
            with urllib.request.urlopen(f"http://{pod.status.pod_ip}:8080/", timeout=3) as r:
                body = r.read()
        except urllib.error.HTTPError as err:  # a pod still starting answers 503 with JSON
            body = err.read()
        out.append(json.loads(body)["version"])
    return sorted(out)


def test_apply_then_rollout_status_and_wait_available(embedded_cluster, ns, client):
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=3))
    out = kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web",
                  "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out.stdout
    out = kubectl(embedded_cluster, "-n", ns, "wait", "--for=condition=Available",
                  "deployment/web", "--timeout=30s")
    assert "condition met" in out.stdout
    d = apps(client).read_namespaced_deployment("web", ns)
    assert (d.status.replicas, d.status.ready_replicas, d.status.available_replicas,
            d.status.updated_replicas) == (3, 3, 3, 3)
    assert {c.type: c.reason for c in d.status.conditions} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    assert versions(client, ns) == ["v1", "v1", "v1"]
    table = kubectl(embedded_cluster, "-n", ns, "get", "deployment", "web").stdout
    assert "3/3" in table


def test_set_image_rolls_and_endpoint_slices_follow(embedded_cluster, ns, client):
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=SERVICE)
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=2))
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(embedded_cluster, "-n", ns, "set", "image", "deployment/web", "app=demo:v2")
    out = kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web",
                  "--timeout=60s")
    assert "successfully rolled out" in out.stdout
    assert versions(client, ns) == ["v2", "v2"]
    rss = apps(client).list_namespaced_replica_set(ns).items
    assert sorted((r.metadata.annotations["deployment.kubernetes.io/revision"], r.spec.replicas)
                  for r in rss) == [("1", 0), ("2", 2)]
    history = kubectl(embedded_cluster, "-n", ns, "rollout", "history", "deployment/web").stdout
    assert "REVISION" in history and "1 " in history and "2 " in history

    def ready_endpoints() -> set[str] | None:
        slices = discovery(client).list_namespaced_endpoint_slice(
            ns, label_selector="kubernetes.io/service-name=web").items
        ready = {e.addresses[0] for s in slices for e in s.endpoints or []
                 if e.conditions.ready}
        pods = core(client).list_namespaced_pod(ns, label_selector="app=web").items
        live = {p.status.pod_ip for p in pods if not p.metadata.deletion_timestamp}
        return ready if ready == live and len(ready) == 2 else None

    until(ready_endpoints, what="slices listing exactly the live pods as ready")


def test_scale_and_undo_renumber_the_old_replica_set(embedded_cluster, ns, client):
    """rollout undo patches the old template back: the controller finds the old RS as new
    and bumps its revision (3), keeping the old number in revision-history."""
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=1))
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(embedded_cluster, "-n", ns, "scale", "deployment/web", "--replicas=3")
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert versions(client, ns) == ["v1"] * 3
    kubectl(embedded_cluster, "-n", ns, "set", "image", "deployment/web", "app=demo:v2")
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(embedded_cluster, "-n", ns, "rollout", "undo", "deployment/web")
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert versions(client, ns) == ["v1"] * 3
    rss = apps(client).list_namespaced_replica_set(ns).items
    assert len(rss) == 2
    v1 = next(r for r in rss if r.spec.template.spec.containers[0].image == "demo:v1")
    assert v1.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert v1.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"


def test_paused_deployment_keeps_old_pods_through_a_template_change(embedded_cluster, ns,
                                                                    client):
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=2))
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(embedded_cluster, "-n", ns, "rollout", "pause", "deployment/web")
    kubectl(embedded_cluster, "-n", ns, "set", "image", "deployment/web", "app=demo:v3")
    kubectl(embedded_cluster, "-n", ns, "scale", "deployment/web", "--replicas=3")
    apps_v1 = apps(client)

    def scaled_on_old() -> bool:
        rss = apps_v1.list_namespaced_replica_set(ns).items
        d = apps_v1.read_namespaced_deployment("web", ns)
        return (len(rss) == 1 and rss[0].status.ready_replicas == 3
                and d.status.observed_generation == d.metadata.generation)

    until(scaled_on_old, what="the paused deployment scaled on its old RS")
    assert versions(client, ns) == ["v1"] * 3
    d = apps_v1.read_namespaced_deployment("web", ns)
    assert d.status.updated_replicas is None  # omitted: no RS has the paused template
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("Unknown", "DeploymentPaused")
    kubectl(embedded_cluster, "-n", ns, "rollout", "resume", "deployment/web")
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert versions(client, ns) == ["v3"] * 3


def test_controllers_record_events_kubectl_shows(embedded_cluster, ns):
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=1))
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    events = json.loads(kubectl(embedded_cluster, "-n", ns, "get", "events", "-o",
                                "json").stdout)["items"]
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert ("Deployment", "ScalingReplicaSet") in reasons
    assert ("ReplicaSet", "SuccessfulCreate") in reasons


def test_paused_mid_rollout_scale_is_proportional_through_kubectl(embedded_cluster, ns, client):
    """sync.go scale(): a stalled rollout (new pods never ready) holds old 4 / new 1 with
    max-replicas 5; paused and scaled to 8 (allowed 8+1=9): old round(4*9/5)=7, new
    round(1*9/5)=2."""
    kubectl(embedded_cluster, "-n", ns, "apply", "-f", "-", stdin=DEPLOYMENT.format(replicas=4))
    kubectl(embedded_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(embedded_cluster, "-n", ns, "set", "env", "deployment/web", "DEMO_READY_AFTER_S=3600")
    apps_v1 = apps(client)

    def sizes() -> list[int]:
        rss = apps_v1.list_namespaced_replica_set(ns).items
        by_revision = {r.metadata.annotations["deployment.kubernetes.io/revision"]:
                       r.spec.replicas for r in rss}
        return [by_revision.get("1", -1), by_revision.get("2", -1)]

    until(lambda: sizes() == [4, 1], what="the rollout stalled at old 4 / new 1")
    kubectl(embedded_cluster, "-n", ns, "rollout", "pause", "deployment/web")
    kubectl(embedded_cluster, "-n", ns, "scale", "deployment/web", "--replicas=8")
    until(lambda: sizes() == [7, 2], what="old 7 / new 2")
    # Old pods kept, the two new ones still starting (they answer 503, with their version).
    until(lambda: versions(client, ns) == ["v1"] * 9, what="nine pods serving")
