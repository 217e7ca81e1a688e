"""Cluster policies live on the embedded cluster, as ``canarist up --policy FILE`` runs it (the
webhook, with the entries for the policies' namespaces, and the reconciler under the same
policies), driven with kubectl, users impersonated with ``--as``/``--as-group``:

- a Deployment without any canarist label or annotation in a policy namespace is adopted
  without a pod restart, held on ``kubectl set image`` and released with the policy's steps and
  router; one in a namespace outside every policy rolls out natively;
- an opted-out Deployment of an adopting policy rolls out natively;
- ``maxConcurrentReleases: 2`` with three template changes runs two and queues one, which starts
  when a slot frees;
- each enforcement case (opt-out, unpause, status forged, a rule broken) is denied to a user
  and allowed to an exempt group, the bypass becoming a Warning Event naming the user.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import deployment, kubectl, until
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.policy import BypassRecord, parse_policies
from webhook.spec.names import ENABLED_LABEL, HASH_LABEL, STATUS
from webhook.spec.routetable import ROUTE_TABLE_KEY, parse_route_table

pytestmark = pytest.mark.slow

STEPS = "- setWeight: 25\n- pause: {}\n"
DEFAULTS = {"steps": STEPS, "traffic-router": "proxy", "scale-down-delay": "1s"}
POLICIES = {"policies": [
    {"name": "team-a", "namespaces": ["team-a"], "adopt": True, "defaults": dict(DEFAULTS),
     "rules": {"maxWeightIncrease": 25}},
    {"name": "limited", "namespaceSelector": {"matchLabels": {"policy": "limited"}},
     "adopt": True, "defaults": dict(DEFAULTS), "rules": {"maxConcurrentReleases": 2}},
    {"name": "enforced", "namespaceSelector": {"matchLabels": {"policy": "enforced"}},
     "adopt": True, "enforce": True, "defaults": dict(DEFAULTS),
     "rules": {"maxWeightIncrease": 25, "allowPromoteFull": False},
     "exempt": {"groups": ["platform-admins"]}},
    {"name": "soft", "namespaceSelector": {"matchLabels": {"policy": "soft"}},
     "adopt": True, "defaults": dict(DEFAULTS)},
]}
# kubectl as someone else: allowed everything by RBAC (system:masters), exempt or not
BOB = ("--as=bob", "--as-group=system:masters")
ALICE = ("--as=alice", "--as-group=system:masters", "--as-group=platform-admins")
_names = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    running = start_in_thread(policies=parse_policies(yaml.safe_dump(POLICIES), "test"))
    try:
        yield running
    finally:
        running.stop()


def namespace(cluster: RunningCluster, name: str = "", **labels: str) -> str:
    name = name or f"pol{next(_names)}"
    kubectl(cluster, "apply", "-f", "-", check=True, stdin=json.dumps({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels}}))
    return name


def create(cluster: RunningCluster, ns: str, name: str, labels: dict[str, str] | None = None,
           annotations: dict[str, str] | None = None) -> None:
    """A plain Deployment (no canarist label or annotation unless given) and its Service."""
    body = deployment(name, replicas=2)
    body["metadata"]["labels"] = dict(labels or {})
    body["metadata"]["annotations"] = dict(annotations or {})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}
    kubectl(cluster, "-n", ns, "apply", "-f", "-", check=True,
            stdin=yaml.safe_dump_all([body, service]))
    until(lambda: ready(cluster, ns, name), f"{ns}/{name} available")


def get(cluster: RunningCluster, ns: str, kind: str, name: str) -> dict[str, Any] | None:
    out = kubectl(cluster, "-n", ns, "get", kind, name, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def ready(cluster: RunningCluster, ns: str, name: str) -> bool:
    d = get(cluster, ns, "deployment", name) or {}
    status = d.get("status") or {}
    return bool(status.get("availableReplicas") == d.get("spec", {}).get("replicas")
                and status.get("updatedReplicas") == status.get("replicas"))


def status(cluster: RunningCluster, ns: str, name: str) -> dict[str, Any]:
    d = get(cluster, ns, "deployment", name) or {}
    text = (d.get("metadata", {}).get("annotations") or {}).get(STATUS)
    return json.loads(text) if text else {}


def weight(cluster: RunningCluster, ns: str, name: str) -> int | None:
    cm = get(cluster, ns, "configmap", f"{name}-canarist-routes")
    if cm is None:
        return None
    return parse_route_table(cm["data"][ROUTE_TABLE_KEY]).routes[0].weight


def set_image(cluster: RunningCluster, ns: str, name: str, image: str,
              *who: str) -> subprocess.CompletedProcess[str]:
    return kubectl(cluster, "-n", ns, "set", "image", f"deployment/{name}", f"app={image}", *who)


def pods(cluster: RunningCluster, ns: str, name: str) -> set[str]:
    out = kubectl(cluster, "-n", ns, "get", "pods", "-l", f"app={name}", "-o", "name",
                  check=True)
    return set(out.stdout.split())


def events(cluster: RunningCluster, ns: str, reason: str) -> list[dict[str, Any]]:
    out = kubectl(cluster, "-n", ns, "get", "events", "-o", "json", check=True)
    return [e for e in json.loads(out.stdout)["items"] if e.get("reason") == reason]


def adopted_check(cluster: RunningCluster, ns: str, name: str) -> Callable[[], bool]:
    return lambda: status(cluster, ns, name).get("phase") == "Healthy"


def promote(cluster: RunningCluster, ns: str, name: str) -> None:
    kubectl(cluster, "-n", ns, "annotate", "deployment", name, "canarist.io/action=promote",
            "--overwrite", check=True)


def test_the_webhook_covers_the_policies_namespaces(cluster: RunningCluster) -> None:
    config = json.loads(kubectl(cluster, "get", "mutatingwebhookconfiguration", "canarist",
                                "-o", "json", check=True).stdout)
    names = [w["name"] for w in config["webhooks"]]
    assert names == ["deployments.canarist.io", "policy-namespaces.canarist.io",
                     "policy-limited.canarist.io", "policy-enforced.canarist.io",
                     "policy-soft.canarist.io"]
    assert config["webhooks"][1]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "team-a"]


def test_a_policy_starting_to_cover_a_deployment_adopts_it_without_a_restart(
        cluster: RunningCluster) -> None:
    ns = namespace(cluster)
    create(cluster, ns, "web")
    before = pods(cluster, ns, "web")
    assert not status(cluster, ns, "web")
    kubectl(cluster, "label", "namespace", ns, "policy=soft", check=True)
    adopted = until(lambda: status(cluster, ns, "web").get("phase") == "Healthy" and status(
        cluster, ns, "web"), "adoption")
    assert adopted["policy"] == "soft" and adopted["steps"] == 2
    d = get(cluster, ns, "deployment", "web") or {}
    assert ENABLED_LABEL not in d["metadata"].get("labels", {})
    assert HASH_LABEL not in d["spec"]["template"]["metadata"]["labels"]  # nothing stamped
    assert pods(cluster, ns, "web") == before  # no pod restarted
    assert weight(cluster, ns, "web") == 0  # the policy's router, set up at rest


def test_held_and_released_with_the_policys_steps_and_router(cluster: RunningCluster) -> None:
    ns = namespace(cluster, "team-a")
    outside = namespace(cluster)
    create(cluster, ns, "web")
    create(cluster, outside, "web")
    adopted = until(lambda: status(cluster, ns, "web").get("phase") == "Healthy" and status(
        cluster, ns, "web"), "adoption")
    assert adopted["policy"] == "team-a" and adopted["steps"] == 2
    assert ENABLED_LABEL not in (get(cluster, ns, "deployment", "web") or {})["metadata"].get(
        "labels", {})

    held = set_image(cluster, ns, "web", "demo:v2")
    assert held.returncode == 0 and "held for canary steps" in held.stderr
    assert (get(cluster, ns, "deployment", "web") or {})["spec"]["paused"] is True
    until(lambda: weight(cluster, ns, "web") == 25, "the policy's first step, weight 25")
    assert status(cluster, ns, "web")["phase"] == "Paused"  # pause: {}
    promote(cluster, ns, "web")
    until(lambda: status(cluster, ns, "web").get("phase") == "Healthy"
          and status(cluster, ns, "web").get("canaryHash") == status(
              cluster, ns, "web").get("stableHash"), "the promotion", timeout=60)

    # a namespace outside every policy: untouched, a native rollout
    native = set_image(cluster, outside, "web", "demo:v2")
    assert native.returncode == 0 and "canarist" not in native.stderr
    until(lambda: ready(cluster, outside, "web"), "the native rollout")
    d = get(cluster, outside, "deployment", "web") or {}
    assert not d["spec"].get("paused") and STATUS not in d["metadata"].get("annotations", {})
    assert get(cluster, outside, "deployment", "web-canary") is None


def test_an_opted_out_deployment_rolls_out_natively(cluster: RunningCluster) -> None:
    ns = namespace(cluster, policy="soft")
    create(cluster, ns, "legacy", labels={ENABLED_LABEL: "false"})
    rolled = set_image(cluster, ns, "legacy", "demo:v2")
    assert rolled.returncode == 0 and "canarist" not in rolled.stderr
    until(lambda: ready(cluster, ns, "legacy")
          and (get(cluster, ns, "deployment", "legacy") or {})["spec"]["template"]["spec"][
              "containers"][0]["image"] == "demo:v2", "the native rollout")
    d = get(cluster, ns, "deployment", "legacy") or {}
    assert not d["spec"].get("paused") and STATUS not in d["metadata"].get("annotations", {})


def test_two_releases_run_and_a_third_waits_for_a_slot(cluster: RunningCluster) -> None:
    ns = namespace(cluster, policy="limited")
    names = ["one", "two", "three"]
    for name in names:
        create(cluster, ns, name)
    for name in names:
        until(adopted_check(cluster, ns, name), f"{name} adopted")
    for name in names:
        assert set_image(cluster, ns, name, "demo:v2").returncode == 0
    seen: list[tuple[str, int | None, dict[str, Any]]] = []

    def two_at_25() -> bool:
        seen[:] = [(n, weight(cluster, ns, n), status(cluster, ns, n)) for n in names]
        return sum(w == 25 for _, w, _ in seen) == 2

    try:
        until(two_at_25, "two releases at 25%")
    except AssertionError:
        raise AssertionError(f"not two releases at 25%: {seen}") from None
    waiting = [n for n in names if weight(cluster, ns, n) != 25]
    assert len(waiting) == 1
    (queued,) = waiting
    found = until(lambda: "waiting to start" in status(cluster, ns, queued).get(
        "message", "") and status(cluster, ns, queued), "the third waiting")
    running = sorted(f"{ns}/{n}" for n in names if n != queued)
    assert found["phase"] == "Progressing"
    assert found["message"] == (
        f"waiting to start: policy limited allows 2 releases at once "
        f"(rules.maxConcurrentReleases); running: {', '.join(running)}")
    assert get(cluster, ns, "deployment", f"{queued}-canary") is None
    assert (get(cluster, ns, "deployment", queued) or {})["spec"]["paused"] is True
    assert events(cluster, ns, "Queued")
    promote(cluster, ns, running[0].split("/")[1])
    until(lambda: weight(cluster, ns, queued) == 25, "the queued release started", timeout=60)


@pytest.fixture(scope="module")
def enforced(cluster: RunningCluster) -> str:
    return namespace(cluster, policy="enforced")


def _denied(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "denied the request" in result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


def _bypassed(cluster: RunningCluster, ns: str, name: str, rule: str) -> None:
    """The object records alice's bypass of ``rule``; a Warning Event names her."""
    d = get(cluster, ns, "deployment", name) or {}
    record = BypassRecord.of(d["metadata"].get("annotations") or {})
    assert record is not None and record.user == "alice" and rule in record.rules
    found = until(lambda: [e for e in events(cluster, ns, "PolicyBypassed")
                           if e["involvedObject"]["name"] == name
                           and e["message"].endswith(record.message)],
                  f"the PolicyBypassed Event of {name}")
    assert found[0]["type"] == "Warning"
    assert found[0]["message"].startswith("alice (groups system:masters, platform-admins, ")
    assert "exempt from policy enforced, bypassed it: " in found[0]["message"]


def test_enforced_opt_out(cluster: RunningCluster, enforced: str) -> None:
    ns = enforced
    create(cluster, ns, "opt")
    until(lambda: status(cluster, ns, "opt").get("phase") == "Healthy", "adoption")
    label = ("-n", ns, "label", "deployment", "opt", f"{ENABLED_LABEL}=false")
    _denied(kubectl(cluster, *label, *BOB), 'canarist.io/enabled: opting out (label '
            'canarist.io/enabled: "false") is not allowed: policy enforced enforces canary '
            'releases (enforce: true)')
    assert kubectl(cluster, *label, *ALICE).returncode == 0
    _bypassed(cluster, ns, "opt", "optOut")
    until(lambda: not status(cluster, ns, "opt"), "handed back")  # opted out for real
    assert set_image(cluster, ns, "opt", "demo:v2").returncode == 0
    until(lambda: ready(cluster, ns, "opt") and not (get(cluster, ns, "deployment", "opt") or {})[
        "spec"].get("paused"), "a native rollout")


def test_enforced_unpause(cluster: RunningCluster, enforced: str) -> None:
    ns = enforced
    create(cluster, ns, "hold")
    until(lambda: status(cluster, ns, "hold").get("phase") == "Healthy", "adoption")
    assert set_image(cluster, ns, "hold", "demo:v2").returncode == 0
    until(lambda: weight(cluster, ns, "hold") == 25, "step 1")
    resume = ("-n", ns, "rollout", "resume", "deployment/hold")
    _denied(kubectl(cluster, *resume, *BOB), "spec.paused: unpausing a release held for canary "
            "steps is not allowed: policy enforced enforces canary releases (enforce: true)")
    assert (get(cluster, ns, "deployment", "hold") or {})["spec"]["paused"] is True
    exempt = kubectl(cluster, *resume, *ALICE)
    assert exempt.returncode == 0 and "is a promote-full" in exempt.stderr
    _bypassed(cluster, ns, "hold", "unpause")
    until(lambda: status(cluster, ns, "hold").get("phase") == "Healthy"
          and status(cluster, ns, "hold").get("canaryHash") == status(
              cluster, ns, "hold").get("stableHash"), "promoted in full", timeout=60)


def test_enforced_status(cluster: RunningCluster, enforced: str) -> None:
    ns = enforced
    create(cluster, ns, "stat")
    current = until(lambda: status(cluster, ns, "stat").get("phase") == "Healthy" and status(
        cluster, ns, "stat"), "adoption")
    forged = json.dumps({**current, "message": "forged"})
    annotate = ("-n", ns, "annotate", "deployment", "stat", f"{STATUS}={forged}", "--overwrite")
    _denied(kubectl(cluster, *annotate, *BOB), "canarist.io/status: is written by canarist only "
            "(changing it is not allowed): policy enforced enforces")
    remove = ("-n", ns, "annotate", "deployment", "stat", f"{STATUS}-")
    _denied(kubectl(cluster, *remove, *BOB), "(removing it is not allowed)")
    assert kubectl(cluster, *annotate, *ALICE).returncode == 0
    _bypassed(cluster, ns, "stat", "status")


def test_enforced_rules(cluster: RunningCluster, enforced: str, tmp_path: Path) -> None:
    ns = enforced
    create(cluster, ns, "rules")
    until(lambda: status(cluster, ns, "rules").get("phase") == "Healthy", "adoption")
    steps = ("-n", ns, "annotate", "deployment", "rules",
             "canarist.io/steps=[{setWeight: 10}, {pause: {}}, {setWeight: 50}, {pause: {}}]")
    _denied(kubectl(cluster, *steps, *BOB), "canarist.io/steps[2].setWeight: raises the weight by "
            "40 (from 10 to 50); policy enforced allows at most 25 (rules.maxWeightIncrease)")
    assert kubectl(cluster, *steps, *ALICE).returncode == 0
    _bypassed(cluster, ns, "rules", "rules.maxWeightIncrease")
    # promote-full is a rule too, for canarist's CLI as for kubectl
    assert set_image(cluster, ns, "rules", "demo:v2", *ALICE).returncode == 0
    until(lambda: weight(cluster, ns, "rules") == 10, "step 1")
    full = ("-n", ns, "annotate", "deployment", "rules", "canarist.io/action=promote-full")
    refused = ("promote-full is not allowed: policy enforced forbids skipping the remaining "
               "steps (rules.allowPromoteFull: false)")
    _denied(kubectl(cluster, *full, *BOB), f"canarist.io/action: {refused}")
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(POLICIES))
    cli = subprocess.run([sys.executable, "-m", "webhook.cli", "promote", "--full", "rules",
                          "-n", ns, "--kubeconfig", str(cluster.kubeconfig), "--policy",
                          str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == 1 and f"promote --full refused: {refused}" in cli.stderr


def test_up_refuses_an_invalid_policy_file_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "policies.yaml"
    bad.write_text("policies:\n- name: a\n  namespaces: [x]\n  rules: {maxWeightIncrease: 0}\n")
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "up", "--kubeconfig",
                          str(tmp_path / "kc"), "--policy", str(bad)],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    assert "policies[0].rules.maxWeightIncrease: must be between 1 and 100, got 0" in out.stderr
