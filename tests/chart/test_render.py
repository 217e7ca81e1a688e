"""The chart, rendered offline for every values file of ``charts/canarist/ci``: lint clean, every
object valid for Kubernetes 1.29 through the newest schemas ``kubernetes-validate`` ships (CRD
kinds against their CRDs), every command line one canarist accepts, and the shapes the issue
asks for (webhook configuration, HA, hardened pods)."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import helm_python
import helm_sdkpy
import pytest
import yaml

from tests.chart.render import (
    CHART,
    CI_FILES,
    IMAGE_REPOSITORIES,
    NAMESPACE,
    ROOT,
    ci_values,
    find,
    kubernetes_versions,
    problems,
    render,
    render_all,
)
from webhook import __version__
from webhook.cli import build_parser

VERSIONS = kubernetes_versions()


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for o in objects:
        if o["kind"] == "Deployment":
            out.append((o["metadata"]["name"], o["spec"]["template"]["spec"]))
        elif o["kind"] == "Pod":
            out.append((o["metadata"]["name"], o["spec"]))
    return out


def test_the_chart_and_the_package_share_one_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["apiVersion"] == "v2"
    assert meta["appVersion"] == meta["version"] == project["version"] == __version__


def test_lint_is_clean_with_helms_library() -> None:
    report = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace=NAMESPACE))
                         .run(str(CHART)))
    assert not report["Errors"]
    assert [m for m in report["Messages"] if m["Severity"] > 1] == []


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.stem)
def test_lint_is_clean_for_each_values_file(values_file: Path) -> None:
    report = helm_python.lint(str(CHART), ci_values(values_file), namespace=NAMESPACE,
                              strict=True, kube_version="v1.29.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_the_ci_matrix_covers_every_mode() -> None:
    assert {p.stem for p in CI_FILES} == {"default-values", "namespaced-values",
                                          "cert-manager-values", "proxy-values",
                                          "everything-values"}


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.stem)
def test_every_object_is_valid_for_each_kubernetes_version(values_file: Path) -> None:
    assert VERSIONS[0] == "1.29" and len(VERSIONS) >= 5
    objects = render(ci_values(values_file))
    found = {}
    for version in VERSIONS:
        for obj in objects:
            bad = problems(obj, version)
            if bad:
                found[f"{version} {obj['kind']} {obj['metadata']['name']}"] = bad
    assert found == {}
    assert all(len(o["metadata"]["name"]) <= 63 for o in objects)


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.stem)
def test_every_container_runs_a_command_canarist_accepts(values_file: Path) -> None:
    parser = build_parser()
    commands = set()
    for name, spec in pod_specs(render(ci_values(values_file))):
        for container in spec["containers"]:
            assert container["image"].startswith(IMAGE_REPOSITORIES), name
            assert "command" not in container  # the image's entrypoint: canarist
            args = parser.parse_args(container["args"])  # exits (fails the test) if refused
            commands.add(args.command)
    assert {"webhook", "reconcile", "check-webhook"} <= commands


def test_the_webhook_configuration() -> None:
    objects = render()
    config = find(objects, "MutatingWebhookConfiguration", "canarist")
    [hook] = config["webhooks"]
    assert hook["failurePolicy"] == "Fail" and hook["timeoutSeconds"] == 5
    assert hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["objectSelector"] == {"matchLabels": {"canarist.io/enabled": "true"}}
    assert hook["namespaceSelector"] == {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "NotIn",
        "values": ["kube-system", "kube-node-lease", NAMESPACE]}]}
    assert hook["rules"] == [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                              "operations": ["CREATE", "UPDATE"],
                              "resources": ["deployments", "deployments/status"],
                              "scope": "Namespaced"}]
    assert "caBundle" not in hook["clientConfig"]  # never Helm's genCA
    assert hook["clientConfig"]["service"] == {"name": "canarist-webhook",
                                               "namespace": NAMESPACE, "path": "/mutate",
                                               "port": 443}
    assert "annotations" not in config["metadata"]
    service = find(objects, "Service", "canarist-webhook")
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https",
                                         "protocol": "TCP"}]
    webhook = find(objects, "Deployment", "canarist-webhook")
    args = webhook["spec"]["template"]["spec"]["containers"][0]["args"]
    for flag in ("--cert-secret=canarist-webhook-tls", "--service=canarist-webhook",
                 "--webhook-config=canarist"):
        assert flag in args


def test_webhook_options() -> None:
    config = find(render({"webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 2,
                                      "excludeNamespaces": ["legacy", "kube-system"],
                                      "aksAdmissionsEnforcerDisabled": True}}),
                  "MutatingWebhookConfiguration", "canarist")
    [hook] = config["webhooks"]
    assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Ignore", 2)
    assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "kube-system", "kube-node-lease", NAMESPACE, "legacy"]
    assert config["metadata"]["annotations"] == {"admissions.enforcer/disabled": "true"}


def test_high_availability_by_default() -> None:
    objects = render()
    for name in ("canarist-webhook", "canarist-reconciler"):
        deploy = find(objects, "Deployment", name)
        assert deploy["spec"]["replicas"] == 2
        anti = deploy["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        assert term["labelSelector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]
        pdb = find(objects, "PodDisruptionBudget", name)
        assert pdb["spec"]["minAvailable"] == 1
        assert pdb["spec"]["selector"] == deploy["spec"]["selector"]
    args = find(objects, "Deployment", "canarist-reconciler")["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert {"--leader-elect", f"--lease-namespace={NAMESPACE}",
            "--lease-name=canarist-reconciler", "--lease-owner=canarist-reconciler"} <= set(args)
    single = render({"webhook": {"replicas": 1}})
    assert not [o for o in single if o["kind"] == "PodDisruptionBudget"
                and o["metadata"]["name"] == "canarist-webhook"]


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.stem)
def test_every_pod_is_hardened(values_file: Path) -> None:
    for name, spec in pod_specs(render(ci_values(values_file))):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]


def test_scheduling_and_image_options_reach_every_component() -> None:
    values = ci_values(next(p for p in CI_FILES if p.stem == "everything-values"))
    objects = render(values)
    image = ("registry.example.com/platform/canarist@sha256:"
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    for name, spec in pod_specs(objects):
        assert spec["containers"][0]["image"] == image, name
        assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}], name
    webhook = find(objects, "Deployment", "canarist-webhook")["spec"]["template"]
    assert webhook["metadata"]["labels"]["tier"] == "control"
    assert webhook["metadata"]["annotations"] == {"example.com/scrape": "true"}
    spec = webhook["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["priorityClassName"] == "system-cluster-critical"
    [spread] = spec["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "webhook"
    reconciler = find(objects, "Deployment", "canarist-reconciler")["spec"]["template"]["spec"]
    assert "nodeAffinity" in reconciler["affinity"] and "podAntiAffinity" not in reconciler[
        "affinity"]
    assert all(o["metadata"]["labels"]["team"] == "platform" for o in objects)
    default = render()
    assert find(default, "Deployment", "canarist-webhook")["spec"]["template"]["spec"][
        "containers"][0]["image"] == f"ghcr.io/canarist/canarist:{__version__}"


def test_cert_manager_mode() -> None:
    objects = render({"certificates": {"certManager": {"enabled": True}}})
    config = find(objects, "MutatingWebhookConfiguration", "canarist")
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NAMESPACE}/canarist-webhook"}
    cert = find(objects, "Certificate", "canarist-webhook")
    assert cert["spec"]["secretName"] == "canarist-webhook-tls"
    assert cert["spec"]["issuerRef"] == {"name": "canarist-ca", "kind": "Issuer",
                                         "group": "cert-manager.io"}
    assert "canarist-webhook.canarist-system.svc" in cert["spec"]["dnsNames"]
    ca = find(objects, "Certificate", "canarist-ca")
    assert ca["spec"]["isCA"] is True
    assert find(objects, "Issuer", "canarist-ca")["spec"] == {"ca": {"secretName": "canarist-ca"}}
    args = find(objects, "Deployment", "canarist-webhook")["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert "--follow" in args and "--adopt-secret=canarist-ca" in args
    assert not [a for a in args if a.startswith("--ca-lifetime")]
    own = render({"certificates": {"certManager": {
        "enabled": True, "issuerRef": {"name": "corp", "kind": "ClusterIssuer"}}}})
    assert find(own, "Certificate", "canarist-webhook")["spec"]["issuerRef"] == {
        "name": "corp", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert not [o for o in own if o["kind"] == "Issuer"]


def test_monitoring_objects_only_when_asked() -> None:
    kinds = {o["kind"] for o in render()}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    objects = render({"monitoring": {"serviceMonitor": {"enabled": True},
                                     "prometheusRule": {"enabled": True}}})
    monitor = find(objects, "ServiceMonitor", "canarist")
    https = monitor["spec"]["endpoints"][0]
    assert https["tlsConfig"] == {"serverName": "canarist-webhook.canarist-system.svc",
                                  "ca": {"secret": {"name": "canarist-webhook-tls",
                                                    "key": "ca-bundle.crt"}}}
    rules = find(objects, "PrometheusRule", "canarist")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "CanaristReleaseAborted", "CanaristReleaseStuck", "CanaristWebhookErrors",
        "CanaristWebhookCallsFailing", "CanaristWebhookCertificateExpiring"}
    stuck = next(r for r in rules if r["alert"] == "CanaristReleaseStuck")
    assert stuck["for"] == "30m" and "changes(canarist_release_step[30m])" in stuck["expr"]


def test_release_names_prefix_every_object() -> None:
    objects = render(name="prod")
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} == {
        "prod-canarist-webhook", "prod-canarist-reconciler"}
    config = find(objects, "MutatingWebhookConfiguration", "prod-canarist")
    assert config["webhooks"][0]["clientConfig"]["service"]["name"] == "prod-canarist-webhook"


def test_notes_say_how_to_opt_in_and_follow() -> None:
    notes = render_all()["canarist/templates/NOTES.txt"]
    assert "kubectl label deployment/web canarist.io/enabled=true" in notes
    assert "canarist status web -w" in notes and "helm test canarist" in notes
    assert '"value": "Ignore"' in notes  # the escape hatch
