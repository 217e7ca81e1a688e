"""The release controls end to end: ``canarist status|list|promote|abort|retry|pause|resume``
against the embedded cluster over HTTPS, exit codes included, the kubectl plugin form too.
Release states are written into ``canarist.io/status`` as the reconciler would."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.conftest import deployment, new_namespace
from tests.kube.front import Front
from webhook.cli import main
from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import SyncClient
from webhook.kube.config import ClientOptions
from webhook.kube.controls import run_status
from webhook.kube.protocol import ObjectRef
from webhook.spec.names import ACTION, ENABLED_LABEL, HASH_LABEL, STATUS

RELEASING = {"phase": "Progressing", "step": 1, "steps": 4, "weight": 20,
             "stableHash": "aaa111", "canaryHash": "bbb222",
             "message": "waiting 30s (pause)"}
HEALTHY = {"phase": "Healthy", "step": 4, "steps": 4, "weight": 0, "stableHash": "aaa111",
           "canaryHash": "aaa111"}


def put(client: SyncClient, ns: str, name: str = "web", *, status: dict[str, Any] | None,
        managed: bool = True, template_hash: str = "", action: str | None = None) -> None:
    """Create or update Deployment ``name`` in the given release state."""
    ref = ObjectRef("apps/v1", "Deployment", ns, name)
    ann: dict[str, str | None] = {STATUS: json.dumps(status) if status is not None else None,
                                  ACTION: action}
    labels = {ENABLED_LABEL: "true" if managed else None}
    if client.get(ref) is None:
        body = deployment(ns, name, annotations={k: v for k, v in ann.items() if v},
                          labels={k: v for k, v in labels.items() if v})
        if template_hash:
            body["spec"]["template"]["metadata"]["labels"][HASH_LABEL] = template_hash
        client.create(body)
        return
    client.patch(ref, {"metadata": {"annotations": ann, "labels": labels}})


def annotations_of(client: SyncClient, ns: str, name: str = "web") -> dict[str, str]:
    got = client.get(ObjectRef("apps/v1", "Deployment", ns, name))
    assert got is not None
    return dict(got["metadata"].get("annotations") or {})


def run(capsys: pytest.CaptureFixture[str], kubeconfig: Path, ns: str, *args: str
        ) -> tuple[int, str, str]:
    code = main([*args, "--kubeconfig", str(kubeconfig), "-n", ns])
    out, err = capsys.readouterr()
    return code, out, err


def fields(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in
                                                  text.splitlines())}


@pytest.fixture
def kc(embedded_cluster: RunningCluster) -> Path:
    return embedded_cluster.kubeconfig


# --- status -------------------------------------------------------------------------------------


def test_status_text_json_yaml(sync_client: SyncClient, ns: str, kc: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    put(sync_client, ns, status=RELEASING)
    code, out, _ = run(capsys, kc, ns, "status", "web")
    assert code == 0
    assert fields(out) == {"Deployment": f"{ns}/web", "Policy": "-", "Phase": "Progressing",
                           "Step": "2/4",
                           "Weight": "20% canary, 80% stable", "Stable": "aaa111",
                           "Canary": "bbb222", "Message": "waiting 30s (pause)"}
    code, out, _ = run(capsys, kc, ns, "status", "web", "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"]["weight"] == 20 and doc["inRelease"] is True
    code, out, _ = run(capsys, kc, ns, "status", "web", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out)["status"]["canaryHash"] == "bbb222"


def test_status_exit_codes(sync_client: SyncClient, ns: str, kc: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    put(sync_client, ns, status=dict(RELEASING, phase="Degraded",
                                     abortedAt="2025-01-01T00:00:00Z",
                                     message="aborted by user; retry or revert"))
    code, out, _ = run(capsys, kc, ns, "status", "web")
    assert code == 1 and fields(out)["Phase"] == "Degraded"
    code, _, err = run(capsys, kc, ns, "status", "nope")
    assert code == 3 and f'deployment "nope" not found in namespace "{ns}"' in err
    put(sync_client, ns, "plain", status=None, managed=False)
    code, _, err = run(capsys, kc, ns, "status", "plain")
    assert code == 1 and "is not managed by canarist" in err
    code, _, err = run(capsys, kc, ns, "status", "Bad_Name")
    assert code == 2 and "NAME: 'Bad_Name' is not a valid Deployment name" in err
    code, _, err = run(capsys, kc, "Bad-NS", "status", "web")
    assert code == 2 and "--namespace: 'Bad-NS' is not a valid namespace" in err
    code = main(["status", "web", "--kubeconfig", str(tmp_path / "missing")])
    assert code == 2 and "--kubeconfig" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["status", "web", "-o", "xml"])
    assert exc.value.code == 2
    code = main(["status", "web", "-w", "--timeout", "0", "--kubeconfig", str(kc)])
    assert code == 2 and "--timeout: must be positive" in capsys.readouterr().err


def follow(kc: Path, ns: str, *extra: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    out, err = io.StringIO(), io.StringIO()

    def go() -> None:
        result["code"] = run_status(ClientOptions(kubeconfig=str(kc), namespace=ns), "web",
                                    watch=True, out=out, err=err,
                                    timeout=float(extra[0]) if extra else 20.0)
        result["out"], result["err"] = out.getvalue(), err.getvalue()

    t = threading.Thread(target=go)
    t.start()
    return t, result


def test_status_watch_prints_a_line_per_change_until_the_release_ends(
        sync_client: SyncClient, ns: str, kc: Path) -> None:
    put(sync_client, ns, status=RELEASING)
    t, result = follow(kc, ns)
    time.sleep(0.5)
    put(sync_client, ns, status=dict(RELEASING, step=2, weight=50, message=""))
    time.sleep(0.3)
    put(sync_client, ns, status=dict(RELEASING, step=4, weight=100, phase="Promoting",
                                     message=""))
    time.sleep(0.3)
    put(sync_client, ns, status=HEALTHY)
    t.join(20)
    assert result["code"] == 0
    lines = result["out"].splitlines()
    assert lines[0].startswith("[####................]  20%  step 2/4  Progressing  "
                               "canary bbb222  stable aaa111")
    assert lines[1].startswith("[##########..........]  50%  step 3/4  Progressing")
    assert lines[2].startswith("[####################] 100%  step 4/4  Promoting")
    assert lines[3] == "[....................]   0%  step 4/4  Healthy  canary -  stable aaa111"
    assert "\r" not in result["out"] and "\x1b" not in result["out"]


def test_status_watch_ends_with_1_on_abort_and_3_on_deletion(
        sync_client: SyncClient, ns: str, kc: Path) -> None:
    put(sync_client, ns, status=RELEASING)
    t, result = follow(kc, ns)
    time.sleep(0.4)
    put(sync_client, ns, status=dict(RELEASING, phase="Degraded", weight=0,
                                     abortedAt="2025-01-01T00:00:00Z"))
    t.join(20)
    assert result["code"] == 1 and "Degraded" in result["out"].splitlines()[-1]
    put(sync_client, ns, status=RELEASING)
    t, result = follow(kc, ns)
    time.sleep(0.4)
    sync_client.delete(ObjectRef("apps/v1", "Deployment", ns, "web"))
    t.join(20)
    assert result["code"] == 3 and "was deleted" in result["err"]


def test_status_watch_timeout(sync_client: SyncClient, ns: str, kc: Path) -> None:
    put(sync_client, ns, status=RELEASING)
    started = time.monotonic()
    t, result = follow(kc, ns, "0.6")
    t.join(20)
    assert result["code"] == 1 and "still Progressing after 0.6s" in result["err"]
    assert time.monotonic() - started < 5


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_watch_redraws_on_a_terminal(sync_client: SyncClient, ns: str, kc: Path) -> None:
    put(sync_client, ns, status=RELEASING)
    out = Terminal()
    done: dict[str, int] = {}
    t = threading.Thread(target=lambda: done.setdefault("code", run_status(
        ClientOptions(kubeconfig=str(kc), namespace=ns), "web", watch=True, out=out,
        err=io.StringIO(), timeout=20)))
    t.start()
    time.sleep(0.4)
    put(sync_client, ns, status=HEALTHY)
    t.join(20)
    text = out.getvalue()
    assert done["code"] == 0
    assert text.count("\r\x1b[K") == 2 and text.endswith("stable aaa111\n")
    assert "\n" not in text[:-1]  # one line, redrawn in place


# --- list ----------------------------------------------------------------------------------------


def test_list(sync_client: SyncClient, ns: str, kc: Path, embedded_cluster: RunningCluster,
              capsys: pytest.CaptureFixture[str]) -> None:
    put(sync_client, ns, "web", status=RELEASING)
    put(sync_client, ns, "api", status=HEALTHY)
    put(sync_client, ns, "plain", status=None, managed=False)
    code, out, _ = run(capsys, kc, ns, "list")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows == [["NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "POLICY"],
                    ["api", "Healthy", "4/4", "0%", "aaa111", "-", "-"],
                    ["web", "Progressing", "2/4", "20%", "aaa111", "bbb222", "-"]]
    other = new_namespace(embedded_cluster)
    put(sync_client, other, "shop", status=RELEASING)
    code, out, _ = run(capsys, kc, ns, "list", "-A")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert [other, "shop"] in [r[:2] for r in rows] and [ns, "web"] in [r[:2] for r in rows]
    code, out, _ = run(capsys, kc, ns, "list", "-o", "json")
    assert [d["name"] for d in json.loads(out)] == ["api", "web"]
    empty = new_namespace(embedded_cluster)
    code, out, err = run(capsys, kc, empty, "list")
    assert code == 0 and out == "" and f"No Deployments managed by canarist in namespace " \
        f"{empty}." in err


# --- actions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "managed", "args", "code", "written", "message"), [
    (RELEASING, True, ["promote"], 0, "promote", "annotated: canarist.io/action=promote"),
    (RELEASING, True, ["promote", "--full"], 0, "promote-full", "action=promote-full"),
    (RELEASING, True, ["abort"], 0, "abort", "action=abort"),
    (RELEASING, True, ["pause"], 0, "pause", "action=pause"),
    (dict(RELEASING, userPaused=True), True, ["resume"], 0, "resume", "action=resume"),
    (dict(RELEASING, phase="Degraded", abortedAt="t"), True, ["retry"], 0, "retry",
     "action=retry"),
    (dict(RELEASING, phase="Degraded", abortedAt="t"), True, ["promote", "--full"], 0,
     "promote-full", "action=promote-full"),
    (HEALTHY, True, ["promote"], 1, None,
     "promote refused: no release in progress (phase Healthy): nothing to promote"),
    (HEALTHY, True, ["abort"], 1, None, "nothing to abort"),
    (RELEASING, False, ["promote"], 1, None, "is not managed by canarist (label "
     "canarist.io/enabled=true is missing, and no cluster policy adopted it)"),
    (RELEASING, True, ["retry"], 1, None, "the release is not aborted: nothing to retry"),
    (RELEASING, True, ["resume"], 1, None, "the release is not paused"),
    (dict(RELEASING, userPaused=True), True, ["pause"], 1, None, "already paused"),
    (dict(RELEASING, phase="Degraded", abortedAt="t"), True, ["promote"], 1, None,
     "the release is aborted; retry it, or promote --full"),
    (dict(RELEASING, phase="Promoting", step=4), True, ["abort"], 1, None,
     "the promotion is under way"),
    (dict(RELEASING, step=4), True, ["promote"], 1, None, "every step is done"),
])
def test_actions(sync_client: SyncClient, ns: str, kc: Path, capsys: pytest.CaptureFixture[str],
                 status: dict[str, Any], managed: bool, args: list[str], code: int,
                 written: str | None, message: str) -> None:
    put(sync_client, ns, status=status, managed=managed)
    got, out, err = run(capsys, kc, ns, *args, "web")
    assert got == code
    assert message in (out if code == 0 else err)
    assert annotations_of(sync_client, ns).get(ACTION) == written


def test_a_held_template_counts_as_a_release(sync_client: SyncClient, ns: str, kc: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # the webhook held a new template; the status still says Healthy on the stable hash
    put(sync_client, ns, status=HEALTHY, template_hash="ccc333")
    code, _, _ = run(capsys, kc, ns, "abort", "web")
    assert code == 0 and annotations_of(sync_client, ns)[ACTION] == "abort"


def test_pending_actions(sync_client: SyncClient, ns: str, kc: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    put(sync_client, ns, status=RELEASING, action="promote")
    code, out, _ = run(capsys, kc, ns, "promote", "web")
    assert code == 0 and "promote already requested" in out
    code, out, _ = run(capsys, kc, ns, "abort", "web")
    assert code == 0 and "(replaces pending promote)" in out
    assert annotations_of(sync_client, ns)[ACTION] == "abort"


def test_action_on_a_missing_deployment_is_3(ns: str, kc: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, kc, ns, "promote", "ghost")
    assert code == 3 and 'deployment "ghost" not found' in err


def test_a_write_racing_a_change_is_judged_again(sync_client: SyncClient, ns: str,
                                                 front: Front, front_kubeconfig: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    put(sync_client, ns, status=RELEASING)
    front.fail(409, 1, method="PATCH", path_contains=f"/namespaces/{ns}/deployments/web")
    code, out, _ = run(capsys, front_kubeconfig, ns, "pause", "web")
    assert code == 0 and "action=pause" in out
    seen = [(s.method, s.status) for s in front.requests(contains=f"{ns}/deployments/web")]
    assert seen == [("GET", 200), ("PATCH", 409), ("GET", 200), ("PATCH", 200)]


def test_kubectl_plugin_form(sync_client: SyncClient, ns: str, kc: Path) -> None:
    put(sync_client, ns, status=RELEASING)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    out = subprocess.run(["kubectl", "canarist", "status", "web", "--kubeconfig", str(kc),
                          "-n", ns], capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert fields(out.stdout)["Phase"] == "Progressing"
    out = subprocess.run(["kubectl", "canarist", "retry", "web", "--kubeconfig", str(kc),
                          "-n", ns], capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert out.returncode == 1 and "nothing to retry" in out.stderr
    out = subprocess.run(["kubectl", "canarist", "status", "ghost", "--kubeconfig", str(kc),
                          "-n", ns], capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert out.returncode == 3
