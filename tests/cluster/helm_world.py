"""A chart installed with Helm's Go library on the embedded cluster, as a user installs it.

The cluster is ``canarist up --without webhook,reconciler``: the API server (RBAC enforced for
every ServiceAccount token), the controllers and the node, whose pods of canarist's image
(``ghcr.io/canarist/canarist``) run as real ``canarist`` processes under their ServiceAccounts.
canarist's own webhook and reconciler are left out, so that the ones a chart installs are the
only ones. Nothing here knows a particular chart.

Use it from a module-scoped fixture::

    from tests.cluster.helm_world import HelmWorld

    @pytest.fixture(scope="module")
    def world() -> Iterator[HelmWorld]:
        with HelmWorld.start() as w:        # or HelmWorld.start(without={"reconciler"})
            yield w

    def test_install(world: HelmWorld) -> None:
        ns = world.namespace("operator")   # created (idempotent); returns the name
        release = world.install("op", CHART_DIR, namespace=ns, values={"replicas": 2})
        assert release["info"]["status"] == "deployed"
        with world.explained(ns):          # a failing assertion gets the namespace's story
            assert world.ok("-n", ns, "get", "deploy", "op-webhook", "-o", "name")
        world.uninstall("op", namespace=ns)

API (every call blocks; Helm's calls run on their own event loop in the calling thread):

- ``HelmWorld.start(without=..., **cluster_options)``: the cluster (``start_in_thread``); a
  context manager that stops it. ``world.cluster`` is the ``RunningCluster`` (``.api``,
  ``.call``, ``.kubeconfig``); ``world.kubeconfig`` its admin kubeconfig path.
- ``world.namespace(name)``: create the namespace unless it exists; returns ``name``.
- ``world.kubectl(*args, stdin=None, timeout=90)``: kubectl 1.32 with the admin kubeconfig, the
  ``CompletedProcess``; ``world.ok(*args, stdin=None)``: its stdout, ``AssertionError`` with
  stderr when it fails.
- ``world.install(release, chart, *, namespace, values=None, wait=True, timeout=120,
  **helm_options)``: ``helm install [--wait]`` of a chart directory (or any chart reference
  Helm takes); returns the release as Helm reports it. On failure raises ``HelmFailed`` whose
  message holds Helm's error and ``world.diagnostics(namespace)``.
- ``world.install_in_background(...)``: the same in a thread, for tests that act while Helm
  waits (a hook to watch, a pod to break); ``.result(timeout)`` returns the release or raises
  ``HelmFailed``; ``.done()`` says whether Helm returned.
- ``world.upgrade(release, chart, *, namespace, values=None, wait=True, timeout=120,
  **helm_options)`` and ``world.uninstall(release, *, namespace, wait=True, timeout=120)``,
  failing the same way.
- ``world.pod_logs(namespace, selector="")``: ``{"pod/container": log}`` for every container
  of the matching pods (``kubectl logs``, the previous instance's log too when it restarted).
- ``world.diagnostics(namespace)``: pods with phase and container states, the namespace's
  events, and every container's log, as text.
- ``world.explained(namespace)``: a context manager that re-raises an ``AssertionError`` with
  ``diagnostics(namespace)`` appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import helm_sdkpy as helm

from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.errors import APIStatusError

DEFAULT_WITHOUT = frozenset({"webhook", "reconciler"})
_LOG_TAIL = 200  # lines of each container's log in diagnostics


class HelmFailed(AssertionError):
    """Helm refused or failed; the message says what Helm said and what the pods did."""


class Pending:
    """A Helm call running in a thread: ``result(timeout)`` waits for it."""

    def __init__(self, world: HelmWorld, namespace: str, what: str, call: Any) -> None:
        self._world, self._namespace, self._what = world, namespace, what
        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True,
                                        name=f"helm {what}")
        self._thread.start()

    def _run(self, call: Any) -> None:
        try:
            self._outcome["release"] = asyncio.run(call)
        except Exception as exc:  # Helm's error, reported by result()
            self._outcome["error"] = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 180.0) -> dict[str, Any]:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise HelmFailed(f"helm {self._what} still running after {timeout:g}s\n"
                             f"{self._world.diagnostics(self._namespace)}")
        if "error" in self._outcome:
            raise HelmFailed(f"helm {self._what} failed: {self._outcome['error']}\n"
                             f"{self._world.diagnostics(self._namespace)}")
        release: dict[str, Any] = self._outcome["release"]
        return release


class HelmWorld:
    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.kubeconfig = str(cluster.kubeconfig)

    @classmethod
    @contextlib.contextmanager
    def start(cls, without: Iterable[str] = DEFAULT_WITHOUT, **cluster_options: Any
              ) -> Iterator[HelmWorld]:
        cluster = start_in_thread(without=frozenset(without), **cluster_options)
        try:
            yield cls(cluster)
        finally:
            cluster.stop()

    # --- kubectl --------------------------------------------------------------------------------

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 90
                ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args],
                              capture_output=True, text=True, input=stdin, timeout=timeout,
                              check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        out = self.kubectl(*args, stdin=stdin)
        if out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def namespace(self, name: str) -> str:
        try:
            self.cluster.call(self.cluster.api.create("namespaces", None,
                                                      {"metadata": {"name": name}}))
        except APIStatusError as exc:
            if exc.status != 409:
                raise
        return name

    # --- Helm -----------------------------------------------------------------------------------

    def _config(self, namespace: str) -> helm.Configuration:
        return helm.Configuration(namespace=namespace, kubeconfig=self.kubeconfig)

    def _install_call(self, release: str, chart: str | Path, namespace: str,
                      values: dict[str, Any] | None, wait: bool, timeout: int,
                      options: dict[str, Any]) -> Any:
        return helm.Install(self._config(namespace)).run(
            release, str(chart), values=values or {}, wait=wait, timeout=timeout, **options)

    def install_in_background(self, release: str, chart: str | Path, *, namespace: str,
                              values: dict[str, Any] | None = None, wait: bool = True,
                              timeout: int = 120, **helm_options: Any) -> Pending:
        call = self._install_call(release, chart, namespace, values, wait, timeout,
                                  helm_options)
        return Pending(self, namespace, f"install {release}", call)

    def install(self, release: str, chart: str | Path, *, namespace: str,
                values: dict[str, Any] | None = None, wait: bool = True, timeout: int = 120,
                **helm_options: Any) -> dict[str, Any]:
        return self.install_in_background(release, chart, namespace=namespace, values=values,
                                          wait=wait, timeout=timeout,
                                          **helm_options).result(timeout + 60)

    def upgrade(self, release: str, chart: str | Path, *, namespace: str,
                values: dict[str, Any] | None = None, wait: bool = True, timeout: int = 120,
                **helm_options: Any) -> dict[str, Any]:
        call = helm.Upgrade(self._config(namespace)).run(
            release, str(chart), values=values or {}, wait=wait, timeout=timeout,
            **helm_options)
        return Pending(self, namespace, f"upgrade {release}", call).result(timeout + 60)

    def uninstall(self, release: str, *, namespace: str, wait: bool = True,
                  timeout: int = 120) -> dict[str, Any]:
        call = helm.Uninstall(self._config(namespace)).run(release, wait=wait, timeout=timeout)
        return Pending(self, namespace, f"uninstall {release}", call).result(timeout + 60)

    # --- what happened ----------------------------------------------------------------------------

    def _pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        pods, _ = self.cluster.call(self.cluster.api.list("pods", namespace,
                                                          label_selector=selector or None))
        return list(pods)

    def pod_logs(self, namespace: str, selector: str = "") -> dict[str, str]:
        logs: dict[str, str] = {}
        for pod in self._pods(namespace, selector):
            name = pod["metadata"]["name"]
            status_of = pod.get("status") or {}
            statuses = [*(status_of.get("initContainerStatuses") or []),
                        *(status_of.get("containerStatuses") or [])]
            for status in statuses:
                container = status["name"]
                text = ""
                if status.get("restartCount"):
                    previous = self.kubectl("-n", namespace, "logs", name, "-c", container,
                                            "--previous", f"--tail={_LOG_TAIL}")
                    if previous.returncode == 0:
                        text += f"(previous instance)\n{previous.stdout}(current instance)\n"
                current = self.kubectl("-n", namespace, "logs", name, "-c", container,
                                       f"--tail={_LOG_TAIL}")
                text += current.stdout if current.returncode == 0 else current.stderr
                logs[f"{name}/{container}"] = text
        return logs

    def diagnostics(self, namespace: str) -> str:
        lines = [f"--- namespace {namespace}: pods"]
        for pod in self._pods(namespace):
            status = pod.get("status") or {}
            states = {c["name"]: c.get("state") for c in status.get("containerStatuses") or []}
            lines.append(f"{pod['metadata']['name']}: {status.get('phase')} "
                         f"{json.dumps(states)}")
        lines.append(f"--- namespace {namespace}: events")
        events, _ = self.cluster.call(self.cluster.api.list("events", namespace))
        for ev in events:
            involved = ev.get("involvedObject") or {}
            lines.append(f"{involved.get('kind')}/{involved.get('name')}: {ev.get('type')} "
                         f"{ev.get('reason')}: {ev.get('message')}")
        for where, text in self.pod_logs(namespace).items():
            lines.append(f"--- log of {where}")
            lines.append(text.rstrip())
        return "\n".join(lines)

    @contextlib.contextmanager
    def explained(self, namespace: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics(namespace)}") from exc
