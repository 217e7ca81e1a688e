"""A converted Argo Rollouts example, migrated and released live on the embedded cluster.

Argo's header-routing e2e fixture (Istio, tests/data/argo/istio-header-route) is first set up
as Argo Rollouts leaves it at rest: the Rollout (a minimal CRD, since no Argo controller runs
here), its ReplicaSet owned by it, both Services pinned to its pod-template hash; its image
is the embedded node's demo app instead of nginx, nothing else changes. Then the
migration of docs/migrating.md is run, command for command, with kubectl and ``canarist
convert`` of what ``kubectl get`` exports, while the stable Service's ready endpoints are
sampled: they never drop to zero and every ready endpoint answers HTTP. Then a new version is
released by canarist's reconciler through the converted steps, and at every pause the
VirtualService equals what ``canarist render`` shows for that step (which
``test_examples.py`` compares with Argo's own shapes).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef
from webhook.release.loop import LoopOptions, Reconciler
from webhook.release.render import render
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import STATUS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # a busy machine

DATA = Path(__file__).resolve().parent.parent / "data" / "argo" / "istio-header-route"
ARGO_IMAGE = "nginx:1.19-alpine"  # the embedded node runs only its demo app: demo:v1 instead
ARGO_HASH = "6f7d9c8b5d"  # the stable ReplicaSet's rollouts-pod-template-hash, as Argo names it
NAME = "rollouts-demo"
_names = itertools.count()


def _crd(group: str, kind: str, plural: str, versions: list[str]) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                               "listKind": f"{kind}List"},
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": schema} for i, v in enumerate(versions)]}}


# Kinds of the fixture the embedded cluster does not serve otherwise: Argo's Rollout and
# Istio's Gateway (schemaless here; the VirtualService CRD is Istio's own, from tests/data/crds).
EXTRA_CRDS = [_crd("argoproj.io", "Rollout", "rollouts", ["v1alpha1"]),
              _crd("networking.istio.io", "Gateway", "gateways", ["v1alpha3", "v1beta1", "v1"])]


class Live:
    def __init__(self, cluster: RunningCluster, client: KubeClient, ns: str) -> None:
        self.cluster, self.client, self.ns = cluster, client, ns

    async def run(self, *argv: str, stdin: str | None = None) -> str:
        """A command (kubectl, or ``python -m webhook.cli``), off the event loop."""
        if argv[0] == "kubectl":
            argv = ("kubectl", "--kubeconfig", str(self.cluster.kubeconfig), "-n", self.ns,
                    *argv[1:])
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 90)
        assert proc.returncode == 0, f"{' '.join(argv)} failed: {err.decode()}"
        return out.decode()

    async def get(self, api_version: str, kind: str, name: str) -> dict[str, Any]:
        obj = await self.client.get(ObjectRef(api_version, kind, self.ns, name))
        assert obj is not None, f"{kind} {name} missing"
        return obj

    async def status(self) -> ReleaseStatus:
        d = await self.get("apps/v1", "Deployment", NAME)
        return ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS))

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]], within: float = 60
                    ) -> Any:
        end = time.monotonic() + within
        last: Any = None
        while time.monotonic() < end:
            last = await probe()
            if last:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; last: {last}")

    async def ready_endpoints(self, service: str) -> list[str]:
        slices = await self.client.list("discovery.k8s.io/v1", "EndpointSlice", self.ns,
                                        label_selector=f"kubernetes.io/service-name={service}")
        return [addr for s in slices for ep in s.get("endpoints") or ()
                if (ep.get("conditions") or {}).get("ready") for addr in ep["addresses"]]


async def _watch_endpoints(live: Live, stop: asyncio.Event, seen: list[int]) -> None:
    """Sample the stable Service's ready endpoints until ``stop``; record each count."""
    while not stop.is_set():
        seen.append(len(await live.ready_endpoints("stable-service")))
        await asyncio.sleep(0.02)


async def _all_answer(live: Live, addresses: list[str]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        for addr in addresses:
            async with http.get(f"http://{addr}:8080/") as resp:
                assert resp.status == 200, addr


async def _argo_at_rest(live: Live) -> None:
    """What Argo Rollouts leaves after a completed release: the user's objects applied with
    kubectl, then the controller's own writes (Service pins, the ReplicaSet, weights 100/0)."""
    text = (DATA / "istio-hr-host.yaml").read_text().replace(ARGO_IMAGE, "demo:v1")
    await live.run("kubectl", "apply", "-f", "-", stdin=text)
    rollout = await live.get("argoproj.io/v1alpha1", "Rollout", NAME)
    for svc in ("stable-service", "canary-service"):
        await live.run("kubectl", "patch", "service", svc, "--type", "merge", "-p", json.dumps({
            "metadata": {"annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": NAME}},
            "spec": {"selector": {"rollouts-pod-template-hash": ARGO_HASH}}}))
    vs = await live.get("networking.istio.io/v1beta1", "VirtualService", "rollouts-demo-vsvc")
    vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = (
        100, 0)
    await live.client.replace(vs)
    template = json.loads(json.dumps(rollout["spec"]["template"]))
    template["metadata"]["labels"]["rollouts-pod-template-hash"] = ARGO_HASH
    await live.client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{NAME}-{ARGO_HASH}", "namespace": live.ns,
                     "labels": template["metadata"]["labels"],
                     "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                                          "kind": "Rollout", "name": NAME,
                                          "uid": rollout["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"replicas": rollout["spec"]["replicas"],
                 "selector": {"matchLabels": template["metadata"]["labels"]},
                 "template": template}})
    await live.until("Argo's pods behind the stable Service",
                     lambda: _count(live, "stable-service", 5))


async def _count(live: Live, service: str, n: int) -> bool:
    return len(await live.ready_endpoints(service)) == n


async def _migrate(live: Live, converted: Path, report: str) -> None:
    """docs/migrating.md, "A migration with no downtime", steps 2 to 5."""
    # 2. The Deployment next to the Rollout, scaled up; its pods serve nothing yet.
    await live.run("kubectl", "apply", "-f", str(converted), "-l", "canarist.io/enabled=true")
    await live.run("kubectl", "rollout", "status", f"deployment/{NAME}", "--timeout=60s")
    # 3. Argo lets go of the Services and routing objects...
    await live.run("kubectl", "patch", "rollout", NAME, "--type", "json", "-p", json.dumps([
        {"op": "remove", "path": f"/spec/strategy/canary/{key}"}
        for key in ("trafficRouting", "canaryService", "stableService")]))
    # ... and the Services select every version's pods: what convert's report says to run.
    patches = [line.split("remove it with: ", 1)[1] for line in report.splitlines()
               if "remove it with: " in line]
    assert len(patches) == 2, report
    for command in patches:
        await live.run(*shlex.split(command))
    await live.run("kubectl", "apply", "-f", str(converted))
    # 4. The Rollout goes, and its ReplicaSet and pods with it.
    await live.run("kubectl", "delete", "rollout", NAME, "--wait=true")
    await live.until("only the Deployment's pods", lambda: _only_deployment_pods(live))


async def _only_deployment_pods(live: Live) -> bool:
    pods = await live.client.list("v1", "Pod", live.ns, label_selector=f"app={NAME}")
    live_pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return len(live_pods) == 5 and all(
        p["metadata"]["labels"].get("rollouts-pod-template-hash") != ARGO_HASH for p in live_pods)


async def test_converted_example_migrates_and_releases_live(
        release_cluster: RunningCluster, tmp_path: Path) -> None:
    ns = f"conv{next(_names)}"
    opts = ClientOptions(kubeconfig=str(release_cluster.kubeconfig), namespace=ns)
    async with connect(opts) as client:
        for crd in EXTRA_CRDS:
            with contextlib.suppress(Exception):  # another test of the session made it
                await client.create(crd)
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        live = Live(release_cluster, client, ns)
        await live.until("the Rollout CRD", lambda: client.resource("argoproj.io/v1alpha1",
                                                                     "Rollout"))
        await _argo_at_rest(live)

        # 1. Convert what the cluster holds (Argo's pins included, so the report says how to
        # remove them).
        exported = await live.run("kubectl", "get", "rollout,service,virtualservice,gateway",
                                  "-o", "yaml")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "webhook.cli", "convert", "-f", "-",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(exported.encode())
        assert proc.returncode == 0, err.decode()
        converted = tmp_path / "canarist.yaml"
        converted.write_bytes(out)

        stop, seen = asyncio.Event(), list[int]()
        stop_reconciler = asyncio.Event()
        reconciler = Reconciler(client, LoopOptions(namespace=ns, resync=3600))
        loop_task = asyncio.create_task(reconciler.run(stop_reconciler))
        watch = asyncio.create_task(_watch_endpoints(live, stop, seen))
        try:
            await _migrate(live, converted, err.decode())
            await asyncio.sleep(0.5)
            stop.set()
            await watch
            assert seen and min(seen) > 0, f"the stable Service had no ready endpoint: {seen}"
            await _all_answer(live, await live.ready_endpoints("stable-service"))
            await _release(live, out.decode())
        finally:
            stop.set()
            stop_reconciler.set()
            await asyncio.wait_for(loop_task, 20)
            if not watch.done():
                watch.cancel()


async def _release(live: Live, converted: str) -> None:
    """``kubectl set image``: canarist releases v2 through the converted steps."""
    status = await live.until("adoption", lambda: _phase(live, Phase.HEALTHY))
    stable_hash = status.stable_hash
    await live.run("kubectl", "set", "image", f"deployment/{NAME}", f"{NAME}=demo:v2")
    new_text = converted.replace("image: demo:v1", "image: demo:v2")
    assert new_text != converted
    steps = yaml.safe_load(next(d for d in yaml.safe_load_all(new_text)
                                if d["kind"] == "Deployment")["metadata"]["annotations"]
                           ["canarist.io/steps"])
    pauses = [i for i, s in enumerate(steps) if s == {"pause": {}}]
    assert pauses == [2, 4, 7]
    for index in pauses:
        status = await live.until(f"pause at step {index}", functools.partial(
            _paused_at, live, index))
        rendered = await asyncio.to_thread(render, new_text, step=index,
                                           stable_hash=stable_hash)
        want = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered)}
        vs = await live.get("networking.istio.io/v1beta1", "VirtualService",
                            "rollouts-demo-vsvc")
        assert vs["spec"]["http"] == want[("VirtualService", "rollouts-demo-vsvc")]["spec"][
            "http"], f"step {index}"
        canary = await live.get("apps/v1", "Deployment", f"{NAME}-canary")
        assert canary["spec"]["replicas"] == want[("Deployment", f"{NAME}-canary")]["spec"][
            "replicas"]
        await live.run("kubectl", "annotate", f"deployment/{NAME}", "canarist.io/action=promote",
                       "--overwrite")
    status = await live.until("promoted", lambda: _phase(live, Phase.HEALTHY, changed_from=(
        stable_hash,)), within=90)
    vs = await live.get("networking.istio.io/v1beta1", "VirtualService", "rollouts-demo-vsvc")
    assert [r["name"] for r in vs["spec"]["http"]] == ["primary"]
    assert [d["weight"] for d in vs["spec"]["http"][0]["route"]] == [100, 0]
    svc = await live.get("v1", "Service", "stable-service")
    assert svc["spec"]["selector"] == {"app": NAME,
                                       "rollouts-pod-template-hash": status.stable_hash}


async def _phase(live: Live, phase: Phase, changed_from: tuple[str, ...] = ()
                 ) -> ReleaseStatus | None:
    status = await live.status()
    if status.phase is phase and status.stable_hash and status.stable_hash not in changed_from:
        return status
    return None


async def _paused_at(live: Live, index: int) -> ReleaseStatus | None:
    status = await live.status()
    return status if status.phase is Phase.PAUSED and status.step == index else None
