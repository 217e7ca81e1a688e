"""The CLI under cluster policies, against the embedded cluster: ``policy explain`` (policies
from a file or from the ConfigMap), ``status`` and ``list`` showing the policy a reconciler
booked, and ``promote --full`` refused by ``rules.allowPromoteFull`` in the reconciler's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.kube.conftest import configmap, deployment, new_namespace
from tests.kube.test_cli_controls import RELEASING, annotations_of, fields, put, run
from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import SyncClient
from webhook.kube.protocol import ObjectRef
from webhook.spec.names import ACTION, ENABLED_LABEL, STATUS

REFUSED = ("promote-full is not allowed: policy strict forbids skipping the remaining steps "
           "(rules.allowPromoteFull: false)")


def document(ns: str, **extra: object) -> str:
    policy = {"name": "strict", "namespaces": [ns], "adopt": True,
              "defaults": {"traffic-router": "proxy",
                           "steps": "- setWeight: 10\n- pause: {duration: 2m}"},
              "rules": {"allowPromoteFull": False, "maxWeightIncrease": 20}}
    policy.update(extra)
    return yaml.safe_dump({"policies": [policy]})


@pytest.fixture
def kc(embedded_cluster: RunningCluster) -> Path:
    return embedded_cluster.kubeconfig


def adopted(client: SyncClient, ns: str, status: dict[str, object]) -> None:
    """An unlabelled Deployment as the reconciler leaves it under policy ``strict``."""
    body = deployment(ns, "web", annotations={
        STATUS: json.dumps(dict(status, policy="strict")),
        "canarist.io/scale-down-delay": "1m"})
    client.create(body)


def test_explain_with_policies_from_a_file(sync_client: SyncClient, ns: str, kc: Path,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    adopted(sync_client, ns, RELEASING)
    path = tmp_path / "policies.yaml"
    path.write_text(document(ns))
    code, out, err = run(capsys, kc, ns, "policy", "explain", "web", "--policy", str(path))
    assert code == 0, err
    assert out.startswith(f"Deployment {ns}/web\nManaged:  yes (adopted by policy strict)\n"
                          "Policy:   strict (policies[0])\n")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[6:] if line}
    assert rows["steps"][-2:] == ["policy", "strict"]
    assert rows["traffic-router"] == ["proxy", "policy", "strict"]
    assert rows["scale-down-delay"] == ["1m", "Deployment"]
    assert rows["abort-scale-down-delay"] == ["30s", "built-in"]
    code, _, err = run(capsys, kc, ns, "policy", "explain", "ghost", "--policy", str(path))
    assert code == 3 and 'deployment "ghost" not found' in err


def test_explain_reads_the_configmap_and_namespace_labels(
        sync_client: SyncClient, embedded_cluster: RunningCluster, kc: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    ns = new_namespace(embedded_cluster)
    embedded_cluster.call(embedded_cluster.api.update("namespaces", None, {
        "metadata": {"name": ns, "labels": {"team": "blue"}}}))
    sync_client.create(deployment(ns, "web"))
    holder = new_namespace(embedded_cluster)
    doc = yaml.safe_dump({"policies": [{"name": "blue", "namespaceSelector": {
        "matchLabels": {"team": "blue"}}, "adopt": True}]})
    sync_client.create(configmap(holder, "pols", **{"policies.yaml": doc}))
    code, out, _ = run(capsys, kc, ns, "policy", "explain", "web", "--policy-configmap",
                       f"{holder}/pols")
    assert code == 0 and "Managed:  yes (adopted by policy blue)" in out
    # no ConfigMap: no policies
    code, out, _ = run(capsys, kc, ns, "policy", "explain", "web", "--policy-configmap",
                       f"{holder}/missing")
    assert code == 0 and "Policy:   none" in out and "Managed:  no" in out
    # an invalid document is said, and counts as none
    sync_client.create(configmap(holder, "bad", **{"policies.yaml": "policies: 3"}))
    code, out, err = run(capsys, kc, ns, "policy", "explain", "web", "--policy-configmap",
                         f"{holder}/bad")
    assert code == 0 and "policies: must be a list" in err and "Policy:   none" in out
    code, _, err = run(capsys, kc, ns, "policy", "explain", "web", "--policy-configmap", "x")
    assert code == 2 and "--policy-configmap: must be NAMESPACE/NAME[:KEY]" in err


def test_status_and_list_show_the_policy(sync_client: SyncClient, ns: str, kc: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    adopted(sync_client, ns, RELEASING)
    put(sync_client, ns, "labelled", status=RELEASING)
    sync_client.create(deployment(ns, "plain"))
    code, out, _ = run(capsys, kc, ns, "status", "web")
    assert code == 0 and fields(out)["Policy"] == "strict"
    code, out, _ = run(capsys, kc, ns, "list")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][-1] == "POLICY"
    assert [(r[0], r[-1]) for r in rows[1:]] == [("labelled", "-"), ("web", "strict")]
    code, out, _ = run(capsys, kc, ns, "list", "-o", "json")
    assert [(d["name"], d["policy"]) for d in json.loads(out)] == [
        ("labelled", None), ("web", "strict")]


def test_promote_full_is_refused_by_the_policy(sync_client: SyncClient, ns: str, kc: Path,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    adopted(sync_client, ns, RELEASING)
    path = tmp_path / "policies.yaml"
    path.write_text(document(ns))
    code, _, err = run(capsys, kc, ns, "promote", "--full", "web", "--policy", str(path))
    assert code == 1 and f"canarist: promote --full refused: {REFUSED}" in err
    assert ACTION not in annotations_of(sync_client, ns)
    code, _, _ = run(capsys, kc, ns, "promote", "web", "--policy", str(path))
    assert code == 0 and annotations_of(sync_client, ns)[ACTION] == "promote"
    # the policies the chart renders, read from the cluster by default
    holder_ref = ObjectRef("v1", "ConfigMap", "canarist-system", "canarist-policies")
    assert sync_client.get(holder_ref) is None
    code, _, _ = run(capsys, kc, ns, "promote", "--full", "web")
    assert code == 0 and annotations_of(sync_client, ns)[ACTION] == "promote-full"


def test_validate_policy_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from webhook.cli import main

    good, bad, deps = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "deps.yaml"
    good.write_text(yaml.safe_dump({"policies": [
        {"name": "a", "namespaces": ["team-a"], "adopt": True,
         "defaults": {"traffic-router": "proxy", "steps": "- setWeight: 10\n- pause: {}"},
         "rules": {"maxWeightIncrease": 20}},
        {"name": "b", "namespaces": ["team-a"]}]}))
    bad.write_text("policies:\n- name: a\n  namespaces: [team-a]\n  rules: {minPause: soon}\n"
                   "- {name: b}\n")
    body = deployment("team-a", "web")
    jumpy = deployment("team-a", "jumpy", annotations={"canarist.io/steps": "- setWeight: 50"})
    out_of_scope = deployment("elsewhere", "other")
    opted_out = deployment("team-a", "legacy", labels={ENABLED_LABEL: "false"})
    deps.write_text(yaml.safe_dump_all([body, jumpy, out_of_scope, opted_out]))
    assert main(["validate", "--policy", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{good}: ok (2 policies: a, b)\n  warning: policies[1] (b) never "
                          "applies: policies[0] (a) comes first")
    assert main(["validate", "--policy", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{bad}: invalid policies (2 problems)",
        '  policies[0].rules.minPause: invalid duration "soon": must be a number of seconds or '
        "a duration such as 30s, 5m, 1h, 1h30m",
        "  policies[1]: must set exactly one of namespaces, namespaceSelector; got neither"]
    assert main(["validate", "--policy", str(good), "-f", str(deps)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("team-a/web: ok (policy a; 2 steps, router proxy, template hash ")
    assert lines[3:5] == [
        "team-a/jumpy: invalid (policy a)",
        "  canarist.io/steps[0].setWeight: raises the weight by 50 (from 0 to 50); policy a "
        "allows at most 20 (rules.maxWeightIncrease)"]
    assert lines[5].startswith("elsewhere/other: not managed: not opted in")
    assert lines[6] == 'team-a/legacy: not managed: opted out (label canarist.io/enabled: "false")'
    assert main(["validate"]) == 2
    assert "give -f FILE, --policy FILE, or both" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["reconcile"], ["webhook", "--tls-cert", "c", "--tls-key",
                                                      "k"]])
def test_servers_refuse_a_bad_policy_file_or_configmap_before_starting(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from webhook.cli import main

    bad = tmp_path / "policies.yaml"
    bad.write_text("policies:\n- {name: a, namespaces: [x], adopt: maybe}\n")
    assert main([*command, "--policy", str(bad)]) == 2
    assert "policies[0].adopt: must be true or false, got \"maybe\"" in capsys.readouterr().err
    assert main([*command, "--policy-configmap", "no-slash"]) == 2
    assert "--policy-configmap: must be NAMESPACE/NAME[:KEY], got 'no-slash'" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit):  # argparse: not both
        main([*command, "--policy", str(bad), "--policy-configmap", "a/b"])
