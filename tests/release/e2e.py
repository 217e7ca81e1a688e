"""End-to-end harness: the reconcile loop against a whole embedded cluster.

The cluster (API server over HTTPS, admission chain calling canarist's real webhook, Deployment/
ReplicaSet/EndpointSlice controllers, a kubelet running each pod as an HTTP server, garbage
collector) runs on its own loop in a thread; the reconciler runs on the test's loop and talks to
it through ``webhook.kube`` over HTTPS, like in a real cluster. Every test gets its namespace.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import KubeClient, connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import JSON, ObjectRef
from webhook.release.loop import LoopOptions, Reconciler
from webhook.spec import ReleaseStatus
from webhook.spec.names import STATUS

CRDS = Path(__file__).resolve().parent.parent / "data" / "crds"
OLD_CRDS = CRDS.parent / "crds-old"
_names = itertools.count()


def deployment(ns: str, annotations: dict[str, str], *, replicas: int = 4) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": ns,
            "labels": {"canarist.io/enabled": "true"},
            "annotations": dict(annotations),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "demo:v1", "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def service(ns: str, name: str = "web", service_type: str = "ClusterIP") -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "type": service_type,
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


class Harness:
    def __init__(self, cluster: RunningCluster, client: KubeClient, ns: str) -> None:
        self.cluster = cluster
        self.client = client
        self.ns = ns
        self.reconciler: Reconciler | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.t0 = time.monotonic()

    # --- the reconciler -------------------------------------------------------------------------

    async def start(self, client: Any = None, **options: Any) -> Reconciler:
        """Run a reconciler for the namespace (through ``client`` when given: a wrapper that
        stops it at a chosen write; ``options``: ``LoopOptions`` fields)."""
        self._stop = asyncio.Event()
        self.reconciler = Reconciler(
            client or self.client, LoopOptions(namespace=self.ns, resync=3600, **options)
        )
        self._task = asyncio.create_task(self.reconciler.run(self._stop))
        return self.reconciler

    async def stop(self) -> None:
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 10)
        self._stop = self._task = None

    # --- reading ----------------------------------------------------------------------------------

    def ref(self, kind: str, name: str, api_version: str = "") -> ObjectRef:
        versions = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1"}
        return ObjectRef(api_version or versions[kind], kind, self.ns, name)

    async def get(self, kind: str, name: str, api_version: str = "") -> JSON | None:
        return await self.client.get(self.ref(kind, name, api_version))

    async def deployment(self) -> JSON:
        obj = await self.get("Deployment", "web")
        assert obj is not None
        return obj

    async def status(self) -> ReleaseStatus:
        d = await self.deployment()
        return ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS))

    async def selector(self, name: str) -> dict[str, str]:
        svc = await self.get("Service", name)
        assert svc is not None, f"Service {name} missing"
        return dict(svc["spec"]["selector"])

    async def canary(self) -> JSON | None:
        return await self.get("Deployment", "web-canary")

    async def wait(
        self, what: str, check: Callable[[ReleaseStatus, JSON], bool], within: float = 20.0
    ) -> ReleaseStatus:
        end = time.monotonic() + within
        status = ReleaseStatus()
        while time.monotonic() < end:
            d = await self.deployment()
            status = ReleaseStatus.from_json((d["metadata"].get("annotations") or {}).get(STATUS))
            if check(status, d):
                return status
            await asyncio.sleep(0.03)
        raise AssertionError(f"timed out waiting for {what}; status: {status.to_dict()}")

    async def wait_for(self, what: str, probe: Callable[[], Any], within: float = 20.0) -> Any:
        end = time.monotonic() + within
        while time.monotonic() < end:
            value = await probe()
            if value:
                return value
            await asyncio.sleep(0.03)
        raise AssertionError(f"timed out waiting for {what}")

    async def warning_events(self, reason: str) -> list[JSON]:
        """The Warning Events with ``reason`` in the namespace."""
        events = await self.client.list("v1", "Event", self.ns)
        return [e for e in events if e.get("type") == "Warning" and e.get("reason") == reason]

    # --- acting like a user ----------------------------------------------------------------------

    async def set_version(self, version: str, **env: str) -> None:
        """``kubectl set image`` (and env): a new template, held by the admission webhook."""
        container: JSON = {"name": "app", "image": f"demo:{version}"}
        if env:
            container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        await self.client.patch(self.ref("Deployment", "web"), patch, patch_type="strategic")

    async def annotate(self, action: str) -> None:
        patch = {"metadata": {"annotations": {"canarist.io/action": action}}}
        await self.client.patch(self.ref("Deployment", "web"), patch)

    async def create_all(self, text: str) -> None:
        for obj in (d for d in yaml.safe_load_all(text) if d):
            obj["metadata"]["namespace"] = self.ns
            await self.client.create(obj)


async def install_crds(cluster: RunningCluster, crds: Iterable[JSON | Path] = ()) -> None:
    """Install ``crds`` (files or objects), by default every CRD of ``tests/data/crds``."""
    opts = ClientOptions(kubeconfig=str(cluster.kubeconfig))
    async with connect(opts) as client:
        for crd in list(crds) or sorted(CRDS.glob("*.yaml")):
            await client.create(yaml.safe_load(crd.read_text()) if isinstance(crd, Path) else crd)


@asynccontextmanager
async def harness(
    cluster: RunningCluster,
    annotations: dict[str, str],
    *,
    objects: str = "",
    replicas: int = 4,
    start: bool = True,
    service_type: str = "ClusterIP",
) -> AsyncIterator[Harness]:
    ns = f"rel{next(_names)}"
    opts = ClientOptions(kubeconfig=str(cluster.kubeconfig), namespace=ns)
    async with connect(opts) as client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        h = Harness(cluster, client, ns)
        await client.create(service(ns, service_type=service_type))
        await h.create_all(objects)
        await client.create(deployment(ns, annotations, replicas=replicas))
        try:
            if start:
                await h.start()
                await h.wait("adoption", lambda s, d: s.phase is not None and _ready(d))
            yield h
        finally:
            await h.stop()


def _ready(d: JSON) -> bool:
    status = d.get("status") or {}
    return bool(status.get("availableReplicas", 0) >= d["spec"]["replicas"])


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
