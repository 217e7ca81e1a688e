"""``canarist up`` as a user runs it: a subprocess, its ready line, kubectl, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

READY = re.compile(r"^canarist up: API server (https://127\.0\.0\.1:\d+), kubeconfig (\S+) ")


OPTED_IN = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {canarist.io/enabled: "true"}, annotations: ANNOTATIONS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "demo:v1"}]
"""


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin,
                          capture_output=True, text=True, timeout=30, check=False)


def start_up(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], float, str]:
    kubeconfig = tmp_path / "kubeconfig"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhook.cli", "up", "--kubeconfig", str(kubeconfig),
         "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=15):
        proc.kill()
        pytest.fail(f"no ready line; stderr: {proc.stderr.read() if proc.stderr else ''}")
    line = proc.stdout.readline()
    return proc, time.monotonic() - started, line


def test_up_prints_one_ready_line_serves_kubectl_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, _, line = start_up(tmp_path)
    try:
        m = READY.match(line)
        assert m, line
        kubeconfig = m.group(2)
        assert Path(kubeconfig).stat().st_mode & 0o777 == 0o600
        out = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get",
                              "mutatingwebhookconfiguration", "canarist", "-o", "json"],
                             capture_output=True, text=True, timeout=30, check=True)
        hook = json.loads(out.stdout)["webhooks"][0]
        assert hook["objectSelector"] == {"matchLabels": {"canarist.io/enabled": "true"}}
        assert hook["failurePolicy"] == "Fail" and hook["timeoutSeconds"] == 5
        # canarist's own webhook answers through the chain: a denial, then a warning
        bad = OPTED_IN.replace("ANNOTATIONS", '{canarist.io/steps: "[{setWeight: 150}]"}')
        out = kubectl(kubeconfig, "apply", "-f", "-", stdin=bad)
        assert 'admission webhook "deployments.canarist.io" denied the request' in out.stderr
        assert "setWeight: must be between 0 and 100, got 150" in out.stderr
        good = OPTED_IN.replace("ANNOTATIONS", "{}")
        assert kubectl(kubeconfig, "apply", "-f", "-", stdin=good).returncode == 0
        labels = json.loads(kubectl(kubeconfig, "get", "deploy", "web", "-o", "json").stdout)[
            "spec"]["template"]["metadata"]["labels"]
        assert "rollouts-pod-template-hash" in labels
        out = kubectl(kubeconfig, "set", "image", "deploy/web", "app=demo:v2")
        assert out.returncode == 0 and "Warning: canarist:" in out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0
    # a clean stop: open watches end, nothing is logged as failed on the way out
    errors = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in errors and " ERROR " not in errors, errors


def test_up_with_the_api_server_alone_is_ready_and_stops_cleanly(tmp_path: Path) -> None:
    # How fast it gets ready is measured by scripts/bench/cluster.py, not asserted here: a
    # timed test fails on a loaded machine without telling anything about the code.
    proc, _, line = start_up(tmp_path, "--without", "controllers,kubelet,proxy")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    assert READY.match(line), line


def test_up_names_every_component_it_can_leave_out() -> None:
    """Issue: ``reconciler`` was missing from the --without list of ``up --help``."""
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "up", "--help"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    flat = " ".join(out.split())
    from webhook.cluster.runtime import COMPONENTS

    for name in COMPONENTS:
        assert f" {name} (" in flat  # described
    listed = flat.split("leave a component out (")[1].split(")")[0]
    assert [n.strip() for n in listed.split(",")] == list(COMPONENTS)


def test_up_rejects_a_bad_proxy_address(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "up", "--kubeconfig",
                          str(tmp_path / "kc"), "--proxy-admin-listen", "9901"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    assert "--proxy-admin-listen: must be HOST:PORT" in out.stderr


def test_up_rejects_an_unknown_component(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "up", "--kubeconfig",
                          str(tmp_path / "kc"), "--without", "scheduler"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    assert "--without: unknown component 'scheduler'" in out.stderr


PROXIED = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {canarist.io/enabled: "true"}
  annotations:
    canarist.io/traffic-router: proxy
    canarist.io/steps: "[{setWeight: 50}, {pause: {}}]"
    canarist.io/analysis: |
      interval: 1s
      consecutiveErrorLimit: 30
      background: true
      metrics: [{name: success-rate, provider: builtin, min: 0.5}]
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "demo:v1", ports: [{containerPort: 8080}]}]
"""
SERVING = re.compile(r"; proxy (127\.0\.0\.1:\d+), admin (http://127\.0\.0\.1:\d+)$")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = answer.read()
            return answer.status, json.loads(body).get("version", "") if "json" in (
                answer.headers.get("Content-Type") or "") else ""
    except (urllib.error.URLError, OSError, ValueError):
        return 0, ""


def release_status(kubeconfig: str) -> dict[str, object]:
    d = json.loads(kubectl(kubeconfig, "get", "deploy", "web", "-o", "json").stdout)
    return dict(json.loads(d["metadata"]["annotations"].get("canarist.io/status", "{}")))


def test_the_builtin_analysis_provider_cannot_be_used_on_up(tmp_path: Path) -> None:
    """Issue: ``up`` ran no proxy and did not wire the builtin provider; its error told users to
    pass a flag ``up`` lacks. Now ``up`` runs canarist proxy (cluster mode, every namespace)
    and gives the reconciler its admin address."""
    proc, _, line = start_up(tmp_path)
    try:
        m = READY.match(line)
        assert m, line
        kubeconfig = m.group(2)
        serving = SERVING.search(line.rstrip())
        assert serving, line
        proxy, admin = serving.groups()
        assert kubectl(kubeconfig, "apply", "-f", "-", stdin=PROXIED).returncode == 0
        deadline = time.monotonic() + 30
        while get(f"http://{proxy}/") != (200, "v1"):  # the route table, then the pods
            assert time.monotonic() < deadline, "the proxy never served v1"
            time.sleep(0.2)
        assert kubectl(kubeconfig, "set", "image", "deploy/web", "app=demo:v2").returncode == 0
        versions: set[str] = set()
        measured: list[object] = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not ({"v1", "v2"} <= versions and measured):
            versions.add(get(f"http://{proxy}/")[1])
            analysis = release_status(kubeconfig).get("analysis") or {}
            assert isinstance(analysis, dict)
            metrics = (analysis.get("background") or {}).get("metrics") or [{}]
            measured = [m for m in metrics[0].get("measurements") or () if "value" in m]
            time.sleep(0.05)
        assert {"v1", "v2"} <= versions, versions  # 50% through the proxy
        assert measured, release_status(kubeconfig)  # read from the proxy's /summary
        status, _ = get(f"{admin}/healthz")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0
    errors = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in errors, errors
