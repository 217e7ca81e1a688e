"""Upstream validation of what charts get wrong, as tables over the kinds' strategies (field
paths and wording as kube-apiserver's 422 names them), and once through kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster.conftest import kubectl
from webhook.cluster.kinds import strategy_for
from webhook.cluster.kinds.podspec import default_pod_spec, validate_pod_spec
from webhook.cluster.resources import ResourceRegistry
from webhook.cluster.runtime import RunningCluster


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "demo:v1", **extra}


def problems(spec: dict[str, Any]) -> list[str]:
    default_pod_spec(spec)
    return [c.text() for c in validate_pod_spec(spec, "spec")]


POD_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("a probe without a handler",
     {"containers": [container(livenessProbe={"periodSeconds": 5})]},
     ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
    ("a probe with two handlers",
     {"containers": [container(readinessProbe={"httpGet": {"port": 8080},
                                                "tcpSocket": {"port": 8080}})]},
     ["spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 "
      "handler type"]),
    ("a liveness probe must succeed once",
     {"containers": [container(livenessProbe={"exec": {"command": ["true"]},
                                              "successThreshold": 3})]},
     ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1"]),
    ("a probe port out of range",
     {"containers": [container(startupProbe={"tcpSocket": {"port": 70000}})]},
     ["spec.containers[0].startupProbe.tcpSocket.port: Invalid value: 70000: must be between "
      "1 and 65535, inclusive"]),
    ("a volume with two sources",
     {"containers": [container()],
      "volumes": [{"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}]},
     ["spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"]),
    ("a volume without a source is an emptyDir", {"containers": [container(
        volumeMounts=[{"name": "v", "mountPath": "/v"}])], "volumes": [{"name": "v"}]}, []),
    ("a secret volume needs secretName",
     {"containers": [container()], "volumes": [{"name": "s", "secret": {}}]},
     ["spec.volumes[0].secret.secretName: Required value"]),
    ("two volumes with one name",
     {"containers": [container()], "volumes": [{"name": "v", "emptyDir": {}},
                                               {"name": "v", "emptyDir": {}}]},
     ['spec.volumes[1].name: Duplicate value: "v"']),
    ("a mount of a volume the pod lacks",
     {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/data"}])]},
     ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    ("two mounts at one path",
     {"containers": [container(volumeMounts=[{"name": "a", "mountPath": "/x"},
                                             {"name": "b", "mountPath": "/x"}])],
      "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]},
     ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/x": must be unique']),
    ("an init container's mount is checked too",
     {"containers": [container()],
      "initContainers": [container(name="init", volumeMounts=[{"name": "gone",
                                                               "mountPath": "/g"}])]},
     ['spec.initContainers[0].volumeMounts[0].name: Not found: "gone"']),
]


@pytest.mark.parametrize(("spec", "want"), [c[1:] for c in POD_CASES],
                         ids=[c[0] for c in POD_CASES])
def test_pod_spec(spec: dict[str, Any], want: list[str]) -> None:
    assert problems(spec) == want


def test_an_empty_volume_defaults_to_empty_dir() -> None:
    spec: dict[str, Any] = {"containers": [container()], "volumes": [{"name": "v"}]}
    default_pod_spec(spec)
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}]


SECRET_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("TLS needs both keys", {"type": "kubernetes.io/tls", "data": {}},
     ["data[tls.crt]: Required value", "data[tls.key]: Required value"]),
    ("TLS with both keys", {"type": "kubernetes.io/tls",
                            "data": {"tls.crt": "YQ==", "tls.key": "Yg=="}}, []),
    ("stringData counts", {"type": "kubernetes.io/tls",
                           "stringData": {"tls.crt": "a", "tls.key": "b"}}, []),
    ("ssh-auth needs its key", {"type": "kubernetes.io/ssh-auth"},
     ["data[ssh-privatekey]: Required value"]),
    ("Opaque needs nothing", {"data": {}}, []),
]


@pytest.mark.parametrize(("body", "want"), [c[1:] for c in SECRET_CASES],
                         ids=[c[0] for c in SECRET_CASES])
def test_secret(body: dict[str, Any], want: list[str]) -> None:
    rt = ResourceRegistry().get("secrets")
    assert rt is not None
    strat = strategy_for(rt)
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
           **body}
    strat.default(obj)
    assert [c.text() for c in strat.validate(obj)] == want


def test_kubectl_shows_the_upstream_422(embedded_cluster: RunningCluster) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "chart", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "chart"}}, "template": {
                "metadata": {"labels": {"app": "chart"}},
                "spec": {"containers": [container(
                    livenessProbe={"initialDelaySeconds": 3},
                    volumeMounts=[{"name": "config", "mountPath": "/etc/app"}])]}}}}
    out = kubectl(embedded_cluster, "apply", "--dry-run=server", "-f", "-",
                  stdin=json.dumps(body))
    assert out.returncode != 0
    assert out.stderr.strip() == (
        'The Deployment "chart" is invalid: \n* spec.template.spec.containers[0].'
        'volumeMounts[0].name: Not found: "config"\n* spec.template.spec.containers[0].'
        "livenessProbe: Required value: must specify a handler type")
