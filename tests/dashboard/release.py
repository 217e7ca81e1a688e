"""Releases on the embedded cluster for the dashboard's tests, and the dashboard process.

``Cluster`` creates namespaces and managed Deployments through the official client and holds
each at a step of its release the way a user does (``kubectl set image``); the reconciler in
the cluster does the rest. ``DashboardProcess.run(kubeconfig, *flags)`` starts ``canarist
dashboard`` (``python -m webhook.cli``) on a free port and waits for ``/healthz``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import SyncClient, connect_sync
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef
from webhook.spec import ReleaseStatus
from webhook.spec.history import History
from webhook.spec.names import ACTION, ENABLED_LABEL, HISTORY, STATUS

STEPS = """
- setWeight: 20
- pause: {}
- setWeight: 50
- pause: {}
"""
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}-{int(time.time()) % 100000}"


class Cluster:
    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.client: SyncClient = connect_sync(ClientOptions(kubeconfig=str(cluster.kubeconfig)))

    def close(self) -> None:
        self.client.close()

    def namespace(self, prefix: str) -> str:
        name = unique(prefix)
        self.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def ref(self, ns: str, name: str) -> ObjectRef:
        return ObjectRef("apps/v1", "Deployment", ns, name)

    def deploy(self, ns: str, name: str, *, steps: str = STEPS, router: str = "proxy",
               replicas: int = 2, adopt: bool = False) -> None:
        """A Service and an opted-in Deployment; returns once canarist adopted it. With
        ``adopt``, the Deployment runs first without canarist, then gets the label and the
        annotations (its template, and so its pods, are never stamped)."""
        self.client.create({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        labels = {ENABLED_LABEL: "true"}
        annotations = {"canarist.io/steps": steps, "canarist.io/traffic-router": router}
        self.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {} if adopt else labels,
                         "annotations": {} if adopt else annotations},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "demo:v1",
                                                           "ports": [{"containerPort": 8080}]}]}}},
        })
        if adopt:
            self.wait(ns, name, "the pods", lambda s, d: (d.get("status") or {}).get(
                "availableReplicas") == replicas)
            self.client.patch(self.ref(ns, name), {"metadata": {"labels": labels,
                                                                "annotations": annotations}})
        self.wait(ns, name, "adoption", lambda s, d: s.phase is not None)

    def release(self, ns: str, name: str, version: str = "v2", **env: str) -> ReleaseStatus:
        """``kubectl set image`` (and env): the release runs to its first ``pause: {}``."""
        container: dict[str, Any] = {"name": "app", "image": f"demo:{version}"}
        if env:
            container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        self.client.patch(self.ref(ns, name), {"spec": {"template": {"spec": {"containers": [
            container]}}}}, patch_type="strategic")
        return self.wait(ns, name, "the first pause",
                         lambda s, d: s.phase is not None and s.phase.value == "Paused"
                         and s.step == 1 and s.weight == 20)

    def deployment(self, ns: str, name: str) -> dict[str, Any]:
        got = self.client.get(self.ref(ns, name))
        assert got is not None, f"deployment {ns}/{name} is missing"
        return got

    def annotations(self, ns: str, name: str) -> dict[str, str]:
        return dict(self.deployment(ns, name)["metadata"].get("annotations") or {})

    def status(self, ns: str, name: str) -> ReleaseStatus:
        return ReleaseStatus.from_json(self.annotations(ns, name).get(STATUS))

    def history(self, ns: str, name: str) -> History:
        return History.from_json(self.annotations(ns, name).get(HISTORY))

    def annotate(self, ns: str, name: str, action: str) -> None:
        self.client.patch(self.ref(ns, name), {"metadata": {"annotations": {ACTION: action}}})

    def wait(self, ns: str, name: str, what: str,
             check: Callable[[ReleaseStatus, dict[str, Any]], bool],
             within: float = 60.0) -> ReleaseStatus:
        end = time.monotonic() + within
        status = ReleaseStatus()
        while time.monotonic() < end:
            d = self.deployment(ns, name)
            status = ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS))
            if check(status, d):
                return status
            time.sleep(0.1)
        raise AssertionError(f"{ns}/{name}: timed out waiting for {what}; status "
                             f"{status.to_dict()}")

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.cluster.kubeconfig), *args],
            capture_output=True, text=True, input=stdin, timeout=60, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def token(self, ns: str, sa: str, rules: list[tuple[str, str, str]]) -> str:
        """A ServiceAccount token allowed ``(verbs, resource, namespace)`` (Roles there)."""
        self.kubectl("-n", ns, "create", "serviceaccount", sa)
        for i, (verbs, resource, where) in enumerate(rules):
            role = f"{sa}-{i}"
            self.kubectl("-n", where, "create", "role", role, f"--verb={verbs}",
                         f"--resource={resource}")
            self.kubectl("-n", where, "create", "rolebinding", role, f"--role={role}",
                         f"--serviceaccount={ns}:{sa}")
        return self.kubectl("-n", ns, "create", "token", sa).strip()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Dashboard:
    """A client of a dashboard at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def wait_healthy(self, within: float = 60.0) -> None:
        end = time.monotonic() + within
        while time.monotonic() < end:
            if self.request("GET", "/healthz").status == 200:
                return
            time.sleep(0.1)
        raise AssertionError("the dashboard's cache did not sync")

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes | None = None, timeout: float = 30.0) -> Answer:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Answer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers.items()), exc.read())

    def get(self, path: str, token: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request("GET", path, headers=headers)

    def act(self, ns: str, name: str, action: str, *, token: str | None = None,
            headers: dict[str, str] | None = None) -> Answer:
        sent = {"X-Canarist-Request": "1", "Content-Type": "application/json"}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return self.request("POST", f"/api/v1/releases/{ns}/{name}/{action}", headers=sent,
                            body=b"{}")

    def metric(self, name: str) -> float:
        """The sum of a metric's samples from ``/metrics``."""
        text = self.request("GET", "/metrics").body.decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and not line.startswith("#"))


class DashboardProcess(Dashboard):
    """``canarist dashboard`` as a process of its own."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        super().__init__(url)
        self.proc = proc

    @classmethod
    @contextlib.contextmanager
    def run(cls, kubeconfig: Path, *flags: str) -> Iterator[DashboardProcess]:
        with tempfile.TemporaryFile(mode="w+") as log:  # a file, not a pipe: never fills up
            proc = subprocess.Popen(
                [sys.executable, "-m", "webhook.cli", "dashboard", "--kubeconfig",
                 str(kubeconfig), "--listen", "127.0.0.1:0", *flags],
                stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()  # "canarist dashboard on http://127.0.0.1:PORT/"
                if "http://" not in line:
                    log.seek(0)
                    raise AssertionError(f"no address printed: {line!r} {log.read()!r}")
                d = cls(proc, line.split("on ", 1)[1].split()[0])
                d.wait_healthy()
                yield d
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                if proc.stdout is not None:
                    proc.stdout.close()
