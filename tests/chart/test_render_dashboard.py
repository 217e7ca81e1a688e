"""The dashboard in the chart (``dashboard.enabled``), rendered offline: off by default,
read-only by default, a role holding only what each mode uses, the command line canarist
accepts, the proxy's admin Service wired in when the proxy runs, and the component options
(scheduling, image, monitoring, the PodDisruptionBudget guard) reaching it as they reach the
others. The ci/ matrix (test_render.py) validates its objects against every Kubernetes version;
tests/chart/test_rbac_processes.py and test_install_live.py run it."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.chart.render import CI_FILES, NAMESPACE, ci_values, find, render, render_all
from webhook.cli import build_parser

READS = [
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
]
WRITES = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]


def on(**dashboard: Any) -> dict[str, Any]:
    return {"dashboard": {"enabled": True, **dashboard}}


def args_of(objects: list[dict[str, Any]], name: str = "canarist-dashboard") -> list[str]:
    spec = find(objects, "Deployment", name)["spec"]["template"]["spec"]
    args: list[str] = spec["containers"][0]["args"]
    return args


def dashboard_objects(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"]["name"]) for o in objects
                  if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
                  == "dashboard")


def test_off_by_default() -> None:
    assert dashboard_objects(render()) == []
    assert "port-forward" not in render_all()["canarist/templates/NOTES.txt"]


def test_on_read_only_by_default_with_its_own_account_service_and_probes() -> None:
    objects = render(on())
    assert dashboard_objects(objects) == [
        ("ClusterRole", "canarist-dashboard"), ("ClusterRoleBinding", "canarist-dashboard"),
        ("Deployment", "canarist-dashboard"), ("Service", "canarist-dashboard"),
        ("ServiceAccount", "canarist-dashboard")]  # one replica: no PodDisruptionBudget
    deploy = find(objects, "Deployment", "canarist-dashboard")
    assert deploy["spec"]["replicas"] == 1
    spec = deploy["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "canarist-dashboard"
    [container] = spec["containers"]
    assert container["args"] == ["dashboard", "--listen=0.0.0.0:3100", "--read-only",
                                 "--auth=none"]
    assert container["ports"] == [{"name": "dashboard", "containerPort": 3100,
                                   "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "dashboard"}
    service = find(objects, "Service", "canarist-dashboard")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "dashboard", "port": 3100,
                                         "targetPort": "dashboard", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert find(objects, "ClusterRole", "canarist-dashboard")["rules"] == READS
    binding = find(objects, "ClusterRoleBinding", "canarist-dashboard")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "canarist-dashboard",
                                    "namespace": NAMESPACE}]
    assert binding["roleRef"]["name"] == "canarist-dashboard"
    notes = render_all(on())["canarist/templates/NOTES.txt"]
    assert f"kubectl port-forward -n {NAMESPACE} svc/canarist-dashboard 3100" in notes
    assert "(read-only)" in notes


@pytest.mark.parametrize(("values", "flags", "rules"), [
    (on(), ["--read-only", "--auth=none"], READS),
    (on(readOnly=False), ["--auth=none"], READS + WRITES),
    # token: SelfSubjectAccessReviews and actions go with the user's token, never the account's
    (on(readOnly=False, auth="token"), ["--auth=token"], READS),
    (on(auth="token"), ["--read-only", "--auth=token"], READS),
], ids=["read-only", "write", "token", "token-read-only"])
def test_the_role_holds_what_the_mode_uses(values: dict[str, Any], flags: list[str],
                                           rules: list[dict[str, Any]]) -> None:
    objects = render(values)
    args = args_of(objects)
    assert [a for a in args if a in ("--read-only", "--auth=none", "--auth=token")] == flags
    parsed = build_parser().parse_args(args)
    assert (parsed.read_only, parsed.auth) == ("--read-only" in flags, flags[-1][7:])
    assert find(objects, "ClusterRole", "canarist-dashboard")["rules"] == rules
    if "--auth=none" in flags and "--read-only" not in flags:
        assert "promote and abort" in render_all(values)["canarist/templates/NOTES.txt"]


def test_one_namespace_watches_it_with_a_role_there() -> None:
    objects = render({"clusterInstall": False, "watchNamespace": "shop", **on()})
    assert "--namespace=shop" in args_of(objects)
    role = [o for o in objects if o["kind"] == "Role"
            and o["metadata"]["name"] == "canarist-dashboard"]
    assert [r["metadata"]["namespace"] for r in role] == ["shop"]
    binding = find(objects, "RoleBinding", "canarist-dashboard")
    assert binding["metadata"]["namespace"] == "shop"
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    assert not [o for o in objects if o["kind"].startswith("ClusterRole")
                and o["metadata"]["name"] == "canarist-dashboard"]
    assert "of namespace shop" in render_all(
        {"clusterInstall": False, "watchNamespace": "shop", **on()})[
        "canarist/templates/NOTES.txt"]


def test_the_proxys_admin_service_gives_the_rates() -> None:
    assert not [a for a in args_of(render(on())) if a.startswith("--proxy-admin-url")]
    objects = render({"proxy": {"enabled": True, "adminPort": 9911}, **on()}, name="prod")
    url = f"http://prod-canarist-proxy.{NAMESPACE}:9911"
    assert f"--proxy-admin-url={url}" in args_of(objects, "prod-canarist-dashboard")
    admin = find(objects, "Service", "prod-canarist-proxy")["spec"]["ports"]
    assert {"name": "admin", "port": 9911, "targetPort": "admin",
            "protocol": "TCP"} in admin
    # the same address the reconciler is given
    reconciler = find(objects, "Deployment", "prod-canarist-reconciler")["spec"]["template"][
        "spec"]["containers"][0]["args"]
    assert f"--proxy-admin-url={url}" in reconciler


def test_component_options_reach_the_dashboard() -> None:
    values = ci_values(next(p for p in CI_FILES if p.stem == "everything-values"))
    objects = render(values)
    deploy = find(objects, "Deployment", "canarist-dashboard")
    assert deploy["spec"]["replicas"] == 2
    template = deploy["spec"]["template"]
    assert template["metadata"]["labels"]["tier"] == "ui"
    spec = template["spec"]
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["priorityClassName"] == "system-cluster-critical"
    [spread] = spec["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "dashboard"
    anti = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == deploy["spec"][
        "selector"]["matchLabels"]
    assert "--verbose" in spec["containers"][0]["args"]
    assert find(objects, "ServiceAccount", "canarist-dashboard")["metadata"]["annotations"] == {
        "example.com/role": "canarist-dashboard"}
    assert find(objects, "Service", "canarist-dashboard")["metadata"]["annotations"] == {
        "example.com/owner": "platform"}
    pdb = find(objects, "PodDisruptionBudget", "canarist-dashboard")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deploy["spec"]["selector"]
    for kind in ("ServiceMonitor", "PodMonitor"):
        monitor = find(objects, kind, "canarist")["spec"]
        endpoints = monitor.get("endpoints") or monitor["podMetricsEndpoints"]
        assert {"port": "dashboard", "path": "/metrics", "interval": "30s"} in endpoints


def test_the_guard_on_its_disruption_budget() -> None:
    with pytest.raises(helm_python.HelmError) as caught:
        render(on(replicas=2, podDisruptionBudget={"minAvailable": 2}))
    assert ("dashboard.podDisruptionBudget.minAvailable (2) must be below dashboard.replicas "
            "(2)") in str(caught.value)
