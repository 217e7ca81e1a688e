"""The disruption controller loop (disruption.go): keeps each PodDisruptionBudget's status.

A budget syncs when it changes and when a pod it selects (before or after the change) does. The
scale of a pod's controller comes from the shared ReplicaSet and Deployment caches (a
ReplicaSet a Deployment controls counts as the Deployment's replicas) or, for a custom
resource, its ``/scale`` subresource. Status is written through the status subresource; when
the expected count cannot be worked out the budget allows no disruption (SyncFailed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.controllers import disruption as dis
from webhook.cluster.controllers.events import EventRecorder
from webhook.cluster.controllers.informer import Informers
from webhook.cluster.controllers.objects import (
    Key,
    Obj,
    controller_ref,
    key_of,
    meta,
    name_of,
    uid_of,
)
from webhook.cluster.controllers.workqueue import (
    Retry,
    WorkQueue,
    enqueue_key,
    retry_on_conflict,
    run_workers,
)
from webhook.errors import APIStatusError

PDBS = "poddisruptionbudgets.policy"
USER = "system:serviceaccount:kube-system:disruption-controller"
WORKERS = 2


class DisruptionController:
    def __init__(self, api: ClusterAPI, informers: Informers, clock: Callable[[], float]
                 ) -> None:
        self.api = api
        self.clock = clock
        self.pdbs = informers.of(PDBS)
        self.pods = informers.of("pods")
        self.replicasets = informers.of("replicasets.apps")
        self.deployments = informers.of("deployments.apps")
        self.queue: WorkQueue[Key] = WorkQueue(base_delay=0.05, max_delay=30.0)
        self.recorder = EventRecorder(api, "controllermanager", clock)
        self.pdbs.add_handler(enqueue_key(self.queue))
        self.pods.add_handler(self._on_pod)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, WORKERS, "disruption")

    def _on_pod(self, etype: str, old: Obj | None, new: Obj | None) -> None:
        for pod in (old, new):
            if pod is None:
                continue
            for pdb in self.pdbs.list(str(meta(pod).get("namespace") or "")):
                if dis.selects(pdb, pod):
                    self.queue.add(key_of(pdb))

    # --- sync ----------------------------------------------------------------------------------

    def scale_of(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        """The finders: a ReplicaSet (or the Deployment controlling it)."""
        if ref.get("kind") != "ReplicaSet":
            return None
        rs = self.replicasets.get(ns, str(ref.get("name")))
        if rs is None or uid_of(rs) != ref.get("uid"):
            return None
        owner = controller_ref(rs)
        if owner is not None and owner.get("kind") == "Deployment":
            deploy = self.deployments.get(ns, str(owner.get("name")))
            if deploy is not None and uid_of(deploy) == owner.get("uid"):
                return uid_of(deploy), int((deploy.get("spec") or {}).get("replicas") or 0)
        return uid_of(rs), int((rs.get("spec") or {}).get("replicas") or 0)

    async def _custom_scale(self, pods: Sequence[Obj]) -> dict[str, tuple[str, int]]:
        """Controllers that are custom resources with a scale subresource."""
        found: dict[str, tuple[str, int]] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None or ref.get("kind") == "ReplicaSet" or str(ref.get("uid")) in found:
                continue
            rt = self.api.registry.by_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
            if rt is None or "scale" not in rt.subresources:
                continue
            try:
                scale = await self.api.get(rt.key, str(meta(pod).get("namespace")),
                                           str(ref.get("name")), subresource="scale")
            except APIStatusError:
                continue
            if meta(scale).get("uid") == ref.get("uid"):
                found[str(ref.get("uid"))] = (str(ref.get("uid")),
                                              int((scale.get("spec") or {}).get("replicas") or 0))
        return found

    async def sync(self, key: Key) -> None:
        pdb = self.pdbs.get(*key)
        if pdb is None:
            return
        pods = [p for p in self.pods.list(key[0]) if dis.selects(pdb, p)]
        if not pods:
            self.recorder.record(pdb, "Normal", "NoPods", "No matching pods found")
        custom = await self._custom_scale(pods)

        def scale_of(ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
            return self.scale_of(ref, ns) or custom.get(str(ref.get("uid")))

        now = self.clock()
        try:
            expected, desired, unmanaged = dis.expected_count(pdb, pods, scale_of)
        except dis.ExpectedCountError as exc:
            self.recorder.record(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                 f"Failed to calculate the number of expected pods: {exc}")
            await self._write(pdb, dis.fail_safe_status(pdb, str(exc), now))
            raise Retry() from exc
        if unmanaged:
            selector = (pdb.get("spec") or {}).get("selector")
            self.recorder.record(
                pdb, "Warning", "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector}) were found "
                "to be unmanaged. As a result, the status of the PDB cannot be calculated "
                "correctly, which may result in undefined behavior. To account for these pods "
                'please set ".spec.minAvailable" field of the PDB to an integer value.')
        disrupted, recheck, late = dis.disrupted_pods(pdb, pods, now)
        for name in late:
            pod = next(p for p in pods if name_of(p) == name)
            self.recorder.record(pod, "Warning", "NotDeleted",
                                 f"Pod was expected by PDB {key[0]}/{key[1]} to be deleted but "
                                 "it wasn't")
        current = dis.count_healthy(pods, disrupted, now)
        status = dis.new_status(pdb, current, desired, expected, disrupted, now)
        if status is not None:
            await self._write(pdb, status)
        if recheck is not None:
            self.queue.add_after(key, max(0.0, recheck - now))

    async def _write(self, pdb: Obj, status: dict[str, Any]) -> None:
        with retry_on_conflict():
            await self.api.update(PDBS, str(meta(pdb).get("namespace")), dict(pdb, status=status),
                                  subresource="status", user=USER)
