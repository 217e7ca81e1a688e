"""values.schema.json refuses unknown keys and wrong types everywhere, naming them; the template
guards refuse combinations that would install a broken canarist."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import helm_python
import helm_sdkpy
import pytest
import yaml

from scripts import chart_schema
from tests.chart.render import CHART, CI_FILES, chart, render
from webhook.cluster.runtime import RunningCluster

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def refused(values: dict[str, Any]) -> str:
    with pytest.raises(helm_python.HelmValuesError) as caught:
        chart().validate_schema(values)
    return str(caught.value)


@pytest.mark.parametrize(("values", "says"), [
    ({"webhook": {"replicaas": 3}}, "replicaas"),
    ({"webhok": {}}, "webhok"),
    ({"webhook": {"replicas": "two"}}, "/webhook/replicas"),
    ({"webhook": {"replicas": 0}}, "/webhook/replicas"),
    ({"webhook": {"failurePolicy": "Sometimes"}}, "/webhook/failurePolicy"),
    ({"webhook": {"timeoutSeconds": 31}}, "/webhook/timeoutSeconds"),
    ({"webhook": {"excludeNamespaces": ["Not A Namespace"]}}, "/webhook/excludeNamespaces/0"),
    ({"webhook": {"tolerations": [{"key": "a", "effekt": "NoSchedule"}]}}, "effekt"),
    ({"webhook": {"resources": {"limit": {"memory": "1Gi"}}}}, "limit"),
    ({"webhook": {"affinity": {"podAntiAfinity": {}}}}, "podAntiAfinity"),
    ({"reconciler": {"routers": {"linkerd": True}}}, "linkerd"),
    ({"reconciler": {"leaderElection": "yes"}}, "/reconciler/leaderElection"),
    ({"proxy": {"autoscaling": {"maxReplicas": "many"}}}, "/proxy/autoscaling/maxReplicas"),
    ({"certificates": {"caLifetime": "ten years"}}, "/certificates/caLifetime"),
    ({"certificates": {"certManager": {"issuerRef": {"kind": "ClusterIssuer"}}}}, "name"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"securityContext": {"privilegd": True}}, "privilegd"),
    ({"monitoring": {"prometheusRule": {"releaseStuckMinutes": -1}}},
     "/monitoring/prometheusRule/releaseStuckMinutes"),
    ({"clusterInstall": False}, "/watchNamespace"),
])
def test_bad_values_are_refused_with_their_path(values: dict[str, Any], says: str) -> None:
    assert says in refused(values)


@pytest.mark.parametrize("values_file", [CHART / "values.yaml", *CI_FILES],
                         ids=lambda p: p.stem)
def test_the_shipped_values_pass(values_file: Path) -> None:
    chart().validate_schema(yaml.safe_load(values_file.read_text()) or {})


def _objects(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            out.append((path, node))
        for key, value in node.get("properties", {}).items():
            out += _objects(value, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            out += _objects(node["items"], f"{path}[]")
    return out


def test_every_object_of_ours_is_closed_and_described() -> None:
    for path, node in _objects(SCHEMA):
        assert "additionalProperties" in node, f"{path or 'the root'} accepts unknown keys"
        for key, value in node.get("properties", {}).items():
            assert value.get("description"), f"{path}.{key} has no description"
    assert SCHEMA["additionalProperties"] is False


def test_every_default_value_is_in_the_schema_and_the_other_way_round() -> None:
    def keys(values: Any, schema: dict[str, Any], path: str) -> None:
        if not isinstance(values, dict) or not values or "properties" not in schema:
            return  # (an empty object: an optional block, e.g. issuerRef)
        assert set(values) == set(schema["properties"]), path
        for key, value in values.items():
            keys(value, schema["properties"][key], f"{path}.{key}")

    keys(yaml.safe_load((CHART / "values.yaml").read_text()), SCHEMA, "")


def test_the_kubernetes_types_are_current() -> None:
    assert chart_schema.main(["--check"]) == 0


@pytest.mark.parametrize(("values", "says"), [
    ({"clusterInstall": False, "watchNamespace": "canarist-system"},
     'watchNamespace "canarist-system" is the release\'s own namespace'),
    ({"webhook": {"replicas": 2, "podDisruptionBudget": {"minAvailable": 2}}},
     "webhook.podDisruptionBudget.minAvailable (2) must be below webhook.replicas (2)"),
    ({"proxy": {"enabled": True, "autoscaling": {"enabled": True, "minReplicas": 5,
                                                 "maxReplicas": 2}}},
     "minReplicas must not exceed maxReplicas"),
])
def test_template_guards(values: dict[str, Any], says: str) -> None:
    with pytest.raises(helm_python.HelmError, match=None) as caught:
        render(values)
    assert says in str(caught.value)
    with pytest.raises(helm_python.HelmError) as kube_system:
        render(namespace="kube-system")
    assert "install canarist into a namespace of its own" in str(kube_system.value)


def test_helm_install_refuses_a_typo_naming_it_and_creates_nothing(
        api_cluster: RunningCluster) -> None:
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    api_cluster.call(api_cluster.api.create("namespaces", None,
                                            {"metadata": {"name": "typo-system"}}))
    cfg = helm_sdkpy.Configuration(namespace="typo-system",
                                   kubeconfig=str(api_cluster.kubeconfig))
    with pytest.raises(helm_sdkpy.InstallError) as caught:
        asyncio.run(helm_sdkpy.Install(cfg).run(
            "canarist", str(CHART), values={"webhook": {"replicaas": 3}}, wait=False,
            timeout=30))
    assert "replicaas" in str(caught.value) and "webhook" in str(caught.value)
    client = k8s_config.new_client_from_config(config_file=str(api_cluster.kubeconfig))
    try:
        core: Any = k8s.CoreV1Api(client)
        assert core.list_namespaced_service_account(
            "typo-system", label_selector="app.kubernetes.io/name=canarist").items == []
        assert core.list_namespaced_secret("typo-system").items == []  # no release record
    finally:
        client.close()
