"""Probes, graceful deletion, projected ServiceAccount tokens and clean-up of pods that run
canarist's image as processes on the embedded cluster."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.podkit import (
    container_status,
    create,
    events,
    get_pod,
    is_ready,
    logs,
    needs_namespaces,
    new_namespace,
    phase_is,
    python_pod,
    wait_event,
    wait_pod,
)
from tests.cluster.workloads import with_root_ca
from webhook.cluster.api import ClusterAPI
from webhook.cluster.kubelet import NodeConfig, run_kubelet
from webhook.cluster.kubelet.isolation import Isolation
from webhook.cluster.kubelet.state import NodeState, record_sandbox, start_time
from webhook.cluster.runtime import RunningCluster, start_in_thread

# A small server: /healthz answers 200 for the first HEALTHY requests, then 500.
FLAKY = r"""
import http.server, os, sys
left = int(os.environ.get("HEALTHY", "1000000"))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global left
        left -= 1
        self.send_response(200 if left >= 0 else 500)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        print(self.headers.get("User-Agent"), self.path, flush=True)
print("serving", flush=True)
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    c = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    yield c
    c.stop()


@needs_namespaces
def test_a_failing_liveness_probe_restarts_the_container(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, python_pod(
        "live", FLAKY, policy="Always", env=[{"name": "HEALTHY", "value": "2"}],
        livenessProbe={"httpGet": {"path": "/healthz", "port": 8080,
                                   "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                       "periodSeconds": 1, "failureThreshold": 2,
                       "terminationGracePeriodSeconds": 1}))
    pod = wait_pod(cluster, ns, "live", lambda p: container_status(p).get("restartCount", 0) >= 1,
                   what="a restart")
    last = container_status(pod)["lastState"]["terminated"]
    assert last["exitCode"] in (137, 143)  # killed: SIGTERM, or SIGKILL after the probe's grace
    wait_event(cluster, ns, "live", "Unhealthy",
               "Liveness probe failed: HTTP probe failed with statuscode: 500")
    wait_event(cluster, ns, "live", "Killing",
               "Container app failed liveness probe, will be restarted")
    assert "kube-probe/1.32 /healthz" in logs(cluster, ns, "live", "--previous")


@needs_namespaces
def test_startup_gates_readiness_on_an_undeclared_port_and_exec_runs_inside(cluster):
    ns = new_namespace(cluster)
    code = ("import time, pathlib\ntime.sleep(1.5)\npathlib.Path('/tmp/ready').touch()\n"
            + FLAKY)
    create(cluster, ns, python_pod(
        "gated", code, policy="Always",
        startupProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 30},
        readinessProbe={"exec": {"command": [
            "python", "-c", "import os, sys; sys.exit(0 if os.path.exists('/tmp/ready') else 1)"]},
            "periodSeconds": 1}))
    running = wait_pod(cluster, ns, "gated", phase_is("Running"))
    assert not is_ready(running)
    ready = wait_pod(cluster, ns, "gated", is_ready, what="Ready")
    cs = container_status(ready)
    assert cs["started"] is True and cs["ready"] is True and cs["restartCount"] == 0
    assert not os.path.exists("/tmp/ready")  # the exec probe saw the container's own /tmp
    probes = [m for _, r, m in events(cluster, ns, "gated") if r == "Unhealthy"]
    assert all(m.startswith("Startup probe failed: dial tcp ") for m in probes), probes


def test_a_failing_exec_readiness_probe_keeps_the_pod_unready(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, python_pod(
        "unready", "import time; time.sleep(60)", policy="Always",
        readinessProbe={"exec": {"command": ["python", "-c", "print('not yet'); exit(1)"]},
                        "periodSeconds": 1}))
    _, _, message = wait_event(cluster, ns, "unready", "Unhealthy", "Readiness probe failed")
    assert message == "Readiness probe failed: not yet"
    assert not is_ready(get_pod(cluster, ns, "unready"))


def _removed_after(cluster: RunningCluster, ns: str, name: str, limit: float = 30) -> float:
    started = time.monotonic()
    cluster.call(cluster.api.delete("pods", ns, name))
    while True:
        items, _ = cluster.call(cluster.api.list("pods", ns))
        if not any(p["metadata"]["name"] == name for p in items):
            return time.monotonic() - started
        assert time.monotonic() - started < limit, "pod not removed"
        time.sleep(0.05)


def test_deletion_honours_the_grace_period(cluster):
    ns = new_namespace(cluster)
    graceful = ("import signal, sys, time\n"
                "def bye(*_):\n    time.sleep(1)\n    print('bye', flush=True)\n    sys.exit(0)\n"
                "signal.signal(signal.SIGTERM, bye)\nprint('up', flush=True)\ntime.sleep(600)\n")
    stubborn = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "print('up', flush=True)\ntime.sleep(600)\n")
    for name, code, grace in (("graceful", graceful, 20), ("stubborn", stubborn, 2)):
        pod = python_pod(name, code, policy="Always")
        pod["spec"]["terminationGracePeriodSeconds"] = grace
        create(cluster, ns, pod)
    for name in ("graceful", "stubborn"):
        wait_pod(cluster, ns, name, phase_is("Running"))
        # (kubectl logs refuses a container still being created: wait for it to run first)
        wait_pod(cluster, ns, name, lambda p: running(p)
                 and "up" in logs(cluster, ns, p["metadata"]["name"]))
    took = _removed_after(cluster, ns, "graceful")
    assert 0.9 < took < 15  # it exited on SIGTERM after its second; the 20 s were not waited
    took = _removed_after(cluster, ns, "stubborn")
    assert 1.9 < took < 12  # killed once its 2 s were over
    killing = [m for _, r, m in events(cluster, ns, "stubborn") if r == "Killing"]
    assert killing == ["Stopping container app"]


class TokenAPI(ClusterAPI):
    """The in-process API with TokenRequest faked as its contract says (``create`` of
    ``serviceaccounts/NAME/token`` returns ``status.token``): tokens that expire in 3 s."""

    issued: list[dict[str, Any]]

    async def create(self, resource: str, namespace: str | None, obj: Any, **kw: Any
                     ) -> dict[str, Any]:
        if resource == "serviceaccounts" and kw.get("subresource") == "token":
            self.issued.append({"sa": kw.get("name"), "spec": obj["spec"]})
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
            return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": obj["spec"], "status": {"token": f"token-{len(self.issued)}",
                                                    "expirationTimestamp": expires}}
        return await super().create(resource, namespace, obj, **kw)


@needs_namespaces
async def test_projected_service_account_token_is_requested_bound_and_renewed(tmp_path):
    api = with_root_ca(TokenAPI())
    api.issued = []
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_kubelet(api, stop, ready=ready, node=NodeConfig(
        state_base=tmp_path / "node")))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await api.create("serviceaccounts", "default", {"metadata": {"name": "webhook"}})
        ca = (await api.get("configmaps", "default", "kube-root-ca.crt"))["data"]["ca.crt"]
        code = ("import time\nd = '/var/run/secrets/kubernetes.io/serviceaccount/'\n"
                "first = open(d + 'token').read()\n"
                "import hashlib\n"
                "ca = hashlib.sha256(open(d + 'ca.crt', 'rb').read()).hexdigest()\n"
                "print(first, ca, open(d + 'namespace').read(), flush=True)\n"
                "for _ in range(200):\n    now = open(d + 'token').read()\n"
                "    if now != first:\n        print('renewed', now, flush=True)\n        break\n"
                "    time.sleep(0.1)\n")
        pod = python_pod("sa", code, volumeMounts=[{
            "name": "kube-api-access-abcde", "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        pod["spec"]["serviceAccountName"] = "webhook"
        pod["spec"]["volumes"] = [{"name": "kube-api-access-abcde", "projected": {
            "defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token",
                                         "audience": "api"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]
        created = await api.create("pods", "default", pod)
        deadline = time.monotonic() + 60
        while True:
            got = await api.get("pods", "default", "sa")
            if (got.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                break
            assert time.monotonic() < deadline, got.get("status")
            await asyncio.sleep(0.1)
        out = b"".join(ln.data for ln in api.node.container_log(  # type: ignore[union-attr]
            "default", "sa", "app", False).select()).decode()
        assert got["status"]["phase"] == "Succeeded", (got["status"], out)
        ca_sum = hashlib.sha256(ca.encode()).hexdigest()
        assert out.splitlines()[0] == f"token-1 {ca_sum} default"
        assert out.splitlines()[1].startswith("renewed token-")
        first = api.issued[0]
        assert first["sa"] == "webhook"
        assert first["spec"]["audiences"] == ["api"]
        assert first["spec"]["expirationSeconds"] == 3607
        assert first["spec"]["boundObjectRef"] == {
            "kind": "Pod", "apiVersion": "v1", "name": "sa",
            "uid": created["metadata"]["uid"]}
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_without_namespaces_processes_run_on_the_host_and_volumes_are_refused(tmp_path):
    api = with_root_ca(ClusterAPI())
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_kubelet(api, stop, ready=ready, node=NodeConfig(
        state_base=tmp_path / "node", isolation=Isolation.HOST)))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        plain = python_pod("plain", "import os; print(os.getcwd())")
        plain["spec"]["automountServiceAccountToken"] = False  # nothing to mount, so it runs
        await api.create("pods", "default", plain)
        vol = python_pod("vol", "print(1)", volumeMounts=[{"name": "e", "mountPath": "/e"}])
        vol["spec"]["volumes"] = [{"name": "e", "emptyDir": {}}]
        await api.create("pods", "default", vol)
        deadline = time.monotonic() + 30
        while True:
            plain = await api.get("pods", "default", "plain")
            waiting = container_status(await api.get("pods", "default", "vol")).get(
                "state", {}).get("waiting", {})
            if plain.get("status", {}).get("phase") == "Succeeded" and \
                    waiting.get("reason") == "CreateContainerError":
                break
            assert time.monotonic() < deadline, (plain.get("status"), waiting)
            await asyncio.sleep(0.1)
        assert "without mount namespaces" in waiting["message"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


@needs_namespaces
def test_nothing_is_left_when_pods_go_and_when_the_cluster_stops():
    before = _links()
    c = start_in_thread(without=frozenset({"webhook", "reconciler", "controllers"}))
    try:
        ns = new_namespace(c)
        for name in ("a", "b"):
            create(c, ns, python_pod(name, "import time; time.sleep(600)", policy="Always"))
        for name in ("a", "b"):
            wait_pod(c, ns, name, phase_is("Running"))
        node = c.api.node
        root = node.node.state.root  # type: ignore[union-attr]
        during = _links() - before
        assert len({n for n in during if n.startswith("cnk")}) == 2
        holders = [json.loads((p / "sandbox.json").read_text())["holder"]
                   for p in (root / "pods").iterdir()]
        c.call(c.api.delete("pods", ns, "a"))
        deadline = time.monotonic() + 20
        while len({n for n in _links() - before if n.startswith("cnk")}) != 1:
            assert time.monotonic() < deadline, _links() - before
            time.sleep(0.1)
    finally:
        c.stop()
    assert {n for n in _links() - before if n.startswith("cnk")} == set()
    assert not root.exists()
    for pid in holders:
        assert start_time(pid) is None or not Path(f"/proc/{pid}").exists()


def test_a_pod_in_its_grace_period_is_finished_when_the_node_stops():
    """Deleted with a long grace period and deaf to SIGTERM, the process is still running when
    the node stops: the node kills it then (it was out of the node's list of pods, and its
    tasks were left pending when the loop closed)."""
    c = start_in_thread(without=frozenset({"webhook", "reconciler", "controllers"}))
    try:
        ns = new_namespace(c)
        body = python_pod("deaf", "import os, signal, time\n"
                                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                  "print(os.getpid(), flush=True)\ntime.sleep(600)")
        body["spec"]["terminationGracePeriodSeconds"] = 600
        body["spec"]["automountServiceAccountToken"] = False
        create(c, ns, body)
        wait_pod(c, ns, "deaf", lambda p: running(p) and bool(logs(c, ns, "deaf").strip()))
        pid = int(logs(c, ns, "deaf").split()[0])
        c.call(c.api.delete("pods", ns, "deaf"))
        wait_event(c, ns, "deaf", "Killing", "Stopping container app")
        time.sleep(0.5)
        assert Path(f"/proc/{pid}").exists()  # in its grace period
        c.call(c.cluster.stop(), timeout=20)  # the loop (and the thread) still run
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and start_time(pid) is not None:
            assert time.monotonic() < deadline, "the process outlived its node"
            time.sleep(0.05)
    finally:
        c.stop()


def running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


@needs_namespaces
def test_what_a_dead_node_left_is_reaped_and_nothing_else(tmp_path):
    base = tmp_path / "kubelet"
    stale = base / "1-dead" / "pods" / "uid1"
    stale.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (base / "1-dead" / "owner").write_text(f"{gone.pid} 1\n")
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    veth, other = "cnkreaptest1", "cnkkeeptest1"
    try:
        for name in (veth, other):
            subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name",
                            "p" + name[3:]], check=True)
        deadline = time.monotonic() + 5
        while start_time(holder.pid) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        record_sandbox(stale, holder.pid, veth)
        state = NodeState.create(base)
        try:
            assert not (base / "1-dead").exists()
            assert holder.wait(5) == -9
            assert veth not in _links() and other in _links()
            assert state.root.exists()
        finally:
            state.close()
        assert not state.root.exists()
    finally:
        with contextlib.suppress(Exception):
            holder.kill()
        for name in (veth, other):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
