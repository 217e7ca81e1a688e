"""Two ``canarist webhook --cert-secret`` processes rotate their certificates (lifetimes of
seconds) while the embedded API server sends them admissions without pause, alternating between
the two through the Service's endpoints: serving pairs and the CA rotate several times, and not
one admission fails. The API server checks each call against the caBundle of the webhook
configuration, as a real one does."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.kube.conftest import new_namespace
from webhook.cluster.runtime import RunningCluster

SVC = "canarist-webhook"
MWC_API = "admissionregistration.k8s.io/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook_config(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": MWC_API, "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "deployments.canarist.io", "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 5,
            "objectSelector": {"matchLabels": {"canarist.io/enabled": "true"}},
            "namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In", "values": [ns]}]},
            "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                       "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}],
            "clientConfig": {"service": {"name": SVC, "namespace": ns, "port": 443,
                                         "path": "/mutate"}},
        }],
    }


def endpoint_slice(ns: str, name: str, port: int, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"kubernetes.io/service-name": SVC}},
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}],
    }


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 40.0) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the webhook process exited"
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx,
                                        timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"webhook on {port} not ready after {seconds} s")


@pytest.fixture
def api(embedded_cluster: RunningCluster) -> Iterator[Any]:
    client = k8s_config.new_client_from_config(config_file=str(embedded_cluster.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.mark.slow
def test_rotation_under_continuous_admissions_fails_none(
        embedded_cluster: RunningCluster, api: Any, tmp_path: Path) -> None:
    ns = new_namespace(embedded_cluster, "rot")
    core: Any = k8s.CoreV1Api(api)
    apps: Any = k8s.AppsV1Api(api)
    admission: Any = k8s.AdmissionregistrationV1Api(api)
    discovery: Any = k8s.DiscoveryV1Api(api)
    name = f"rotation-{ns}"
    admission.create_mutating_webhook_configuration(webhook_config(name, ns))
    core.create_namespaced_service(ns, {"metadata": {"name": SVC}, "spec": {
        "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}})
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"webhook{i}.log" for i in range(2)]
    try:
        for i, port in enumerate(ports):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "webhook.cli", "webhook", "--listen",
                 f"127.0.0.1:{port}", "--kubeconfig", str(embedded_cluster.kubeconfig),
                 "-n", ns, "--cert-secret", "canarist-webhook-tls", "--service", SVC,
                 "--webhook-config", name, "--ca-lifetime", "36s", "--serving-lifetime", "12s",
                 "--ca-propagation", "3s", "--cert-check-interval", "1", "--reload-interval",
                 "0.5", "--cert-dir", str(tmp_path / f"certs{i}"), "--log-level", "info"],
                stdout=logs[i].open("wb"), stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}))
        for port, proc in zip(ports, procs, strict=True):
            wait_ready(port, proc)
        for i, port in enumerate(ports):
            discovery.create_namespaced_endpoint_slice(
                ns, endpoint_slice(ns, f"{SVC}-{i}", port, ready=i == 0))
        apps.create_namespaced_deployment(ns, {
            "metadata": {"name": "web", "labels": {"canarist.io/enabled": "true"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "demo:v1"}]}}}})

        def ca_of() -> bytes:
            secret = core.read_namespaced_secret("canarist-webhook-tls", ns)
            return base64.b64decode(secret.data["ca.crt"])

        cas = {ca_of()}
        pairs: set[str] = set()
        failures: list[str] = []
        sent = 0
        flips = 0
        start = time.monotonic()
        last_flip = start
        while time.monotonic() - start < 70:
            try:
                apps.patch_namespaced_deployment(
                    "web", ns, {"metadata": {"annotations": {"test/n": str(sent)}}})
            except ApiException as exc:
                failures.append(f"{time.monotonic() - start:.1f}s: {exc.status} {exc.body}")
            sent += 1
            if time.monotonic() - last_flip > 0.5:  # the other replica answers now
                flips += 1
                for i, port in enumerate(ports):
                    discovery.replace_namespaced_endpoint_slice(
                        f"{SVC}-{i}", ns,
                        endpoint_slice(ns, f"{SVC}-{i}", port, ready=(i + flips) % 2 == 0))
                last_flip = time.monotonic()
                secret = core.read_namespaced_secret("canarist-webhook-tls", ns)
                pairs.add(secret.data["tls.crt"])
                cas.add(base64.b64decode(secret.data["ca.crt"]))
            if len(cas) >= 2 and len(pairs) >= 5 and time.monotonic() - start > 35:
                break
        assert failures == [], f"{len(failures)} of {sent} admissions failed: {failures[:5]}"
        assert len(cas) >= 2, "the CA did not rotate"
        assert len(pairs) >= 5, "the serving pair did not rotate"
        assert sent > 300
        assert all(p.poll() is None for p in procs)
        text = logs[0].read_text() + logs[1].read_text()
        assert "promote-ca" in text and "tls certificate reloaded" in text
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        admission.delete_mutating_webhook_configuration(name)
