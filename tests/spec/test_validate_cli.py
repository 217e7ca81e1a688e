"""`canarist validate -f FILE`: offline check of the annotations in a manifest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webhook.cli import main
from webhook.spec.durations import format_duration

GOOD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {canarist.io/enabled: "true"}
  annotations:
    canarist.io/steps: |
      - setWeight: 10
      - pause: {duration: 1m}
    canarist.io/traffic-router: proxy
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
"""


def test_valid_manifest_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(GOOD)
    assert main(["validate", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("web: ok (2 steps, router proxy, template hash ")


def test_invalid_manifest_lists_problems_and_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(GOOD.replace("setWeight: 10", "setWeight: 110"))
    assert main(["validate", "-f", str(path)]) == 1
    assert "canarist.io/steps[0].setWeight: must be between 0 and 100, got 110" in (
        capsys.readouterr().out
    )


def test_unreadable_input_is_a_one_line_error_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-f", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("canarist: cannot read ") and err.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    assert main(["validate", "-f", str(bad)]) == 2
    assert "YAML does not parse at line 2" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "render"])
def test_an_endless_or_binary_input_is_refused_unread(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "-f", "/dev/zero"]) == 2  # read whole before: never returned
    assert capsys.readouterr().err == "canarist: /dev/zero: is larger than 4194304 bytes\n"
    result = subprocess.run([sys.executable, "-m", "webhook.cli", command, "-f", "-"],
                            input=b"kind: \xff\n", capture_output=True, check=False, timeout=60)
    assert (result.returncode, result.stderr) == (2, b"canarist: -: not UTF-8 text (byte 6)\n")


def test_console_script_reads_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "validate", "-f", "-"],
        input=GOOD,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("web: ok")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (0.25, "250ms")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 4
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}]
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "demo:v1"}]}
"""
TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec: {metrics: [{name: success-rate, provider: {prometheus: {query: x}}}]}
"""


@pytest.mark.parametrize("command", ["validate", "render", "mutate"])
def test_a_rollout_is_named_with_what_to_do(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: a file holding a Rollout said "no Deployment found"."""
    path = tmp_path / "rollout.yaml"
    path.write_text(ROLLOUT)
    assert main([command, "-f", str(path)]) in (1, 2)
    said = capsys.readouterr()
    text = said.out + said.err
    assert (
        "Rollout web is an Argo Rollouts object (argoproj.io/v1alpha1), not a Deployment: "
        "canarist releases plain Deployments. Turn it into an annotated Deployment with "
        f"`canarist convert -f {path}`"
    ) in text, text
    assert "no Deployment found" not in text


def test_argo_objects_beside_deployments_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(GOOD + "---" + TEMPLATE)
    assert main(["validate", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("web: ok")
    assert (
        f"warning: {path}: AnalysisTemplate success-rate is an Argo Rollouts object "
        "(argoproj.io/v1alpha1): its metrics belong in the Deployment's canarist.io/analysis "
        "annotation"
    ) in out
