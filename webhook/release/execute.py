"""Carrying out a plan: each operation as API writes and router calls, in order.

The executor stops at the first failure and raises it: the loop requeues the Deployment and the
next plan, made from the cluster as it then is, picks up where this one stopped (every operation
is idempotent, so repeating the ones that succeeded is harmless). Events are recorded only after
every operation succeeded, so a retried plan does not announce twice.

Writes:
- Services, the canary Deployment: merge patches (a Service's selector keys removed with
  ``null``); creating what already exists and deleting what is gone count as done. The canary
  Deployment handed over at promotion is deleted with ``propagationPolicy: Orphan`` and a
  ``uid`` precondition (its ReplicaSet and pods stay).
- The status annotation: a merge patch of ``metadata.annotations`` through the Deployment's
  **status subresource**, which keeps annotation changes and does not bump ``generation``
  (k8s-semantics §3.5). ``canarist.io/history`` goes in the same write when it changed.
- Unpausing (and dynamic stable scale): a merge patch of the main resource, with the status in the
  same write so that the admission webhook sees ``phase: Promoting``.
- Every write to the user's Deployment carries the ``resourceVersion`` the plan was made from (or,
  after the plan's own first write to it, the one that write returned): a plan made from a stale
  cache, or racing a user's change (a new template, an action), fails with 409 and is made again
  from the newer object — an action is never dropped unseen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from webhook.errors import Conflict
from webhook.kube.protocol import JSON, ObjectRef, PatchType
from webhook.release.model import DeploymentView
from webhook.release.ops import (
    CleanupRoutes,
    CreateCanary,
    CreateService,
    DeleteCanary,
    DeleteReplicaSet,
    DeleteService,
    Op,
    OrphanCanary,
    PatchDeployment,
    PatchServiceSelector,
    Plan,
    RemoveRoutes,
    RouteTraffic,
    ScaleCanary,
    WriteStatus,
)
from webhook.routers.base import Router
from webhook.spec import ReleaseStatus
from webhook.spec.names import ACTION, HISTORY, STATUS


class Writer(Protocol):
    """The writes the executor needs (``webhook.kube.client.KubeClient`` has them)."""

    async def create(self, obj: JSON) -> JSON: ...

    async def patch(
        self,
        ref: ObjectRef,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
    ) -> JSON: ...

    async def delete(
        self, ref: ObjectRef, *, propagation: str = "Background", uid: str = ""
    ) -> bool: ...


class EventSink(Protocol):
    """Where Events go (``webhook.kube.events.EventRecorder`` is one)."""

    def record(self, obj: Mapping[str, Any], etype: str, reason: str, message: str) -> object: ...


RoutersFor = Callable[[], Awaitable[Sequence[Router]]]


def service_patch(op: PatchServiceSelector) -> JSON:
    selector: dict[str, str | None] = dict(op.set)
    selector.update(dict.fromkeys(op.remove))
    body: JSON = {"spec": {"selector": selector}}
    if op.service_type is not None:
        body["spec"]["type"] = op.service_type
        body["spec"]["ports"] = [dict(p) for p in op.ports]
    if op.annotations:
        body["metadata"] = {"annotations": dict(op.annotations)}
    return body


def status_annotations(
    status: ReleaseStatus | None, consume: bool, history: str | None = None
) -> dict[str, str | None]:
    """The status (``None``: removed, with the history), the history when it changed, and the
    consumed action's removal: one write."""
    out: dict[str, str | None] = {STATUS: status.to_json() if status is not None else None}
    if status is None:
        out[HISTORY] = None
    elif history is not None:
        out[HISTORY] = history
    if consume:
        out[ACTION] = None
    return out


def deployment_patch(op: PatchDeployment, resource_version: str) -> JSON:
    spec: JSON = {}
    if op.paused is not None:
        spec["paused"] = op.paused
    if op.replicas is not None:
        spec["replicas"] = op.replicas
    meta: JSON = {"resourceVersion": resource_version}
    if op.status is not None or op.consume_action:
        annotations = status_annotations(op.status, op.consume_action, op.history)
        if op.status is None:
            annotations.pop(STATUS)
            annotations.pop(HISTORY)
        meta["annotations"] = annotations
    body: JSON = {"metadata": meta}
    if spec:
        body["spec"] = spec
    return body


def write_status_patch(op: WriteStatus, resource_version: str) -> JSON:
    return {
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": status_annotations(op.status, op.consume_action, op.history),
        }
    }


async def drive(routers: Sequence[Router], op: RouteTraffic) -> None:
    """Argo Rollouts' call order for each router: routes, hashes, weight — or, when the weight
    goes down, the weight before the hashes (so no hash-pinned selection points at pods that
    still carry weight they should not)."""
    for router in routers:
        for header in op.header_routes:
            await router.set_header_route(header)
        for mirror in op.mirror_routes:
            await router.set_mirror_route(mirror)
        if op.weight_first:
            await router.set_weight(op.weight)
            await router.update_hash(op.canary_hash, op.stable_hash)
        else:
            await router.update_hash(op.canary_hash, op.stable_hash)
            await router.set_weight(op.weight)


@dataclass(frozen=True)
class Ran:
    """What one plan's run wrote to the user's Deployment."""

    wrote_deployment: bool = False
    # the resourceVersions its writes replaced (a cache still holding one of them has not seen
    # the run's last write)
    superseded: tuple[str, ...] = ()


@dataclass
class _Run:
    """One run's own state: workers run plans of different Deployments at once on one
    ``Executor``, so nothing of a run may live on it."""

    deployment: DeploymentView
    rv: str
    superseded: tuple[str, ...] = ()

    def wrote(self, obj: JSON) -> None:
        """The plan's next write to the Deployment builds on this one, not on the plan's copy."""
        self.superseded += (self.rv,)
        rv = (obj.get("metadata") or {}).get("resourceVersion") if isinstance(obj, dict) else None
        self.rv = str(rv or self.rv)


class Executor:
    def __init__(self, writer: Writer, events: EventSink) -> None:
        self.writer = writer
        self.events = events
        self.writes = 0  # API writes issued (router writes are the routers' own)

    async def run(self, plan: Plan, deployment: DeploymentView, routers: RoutersFor) -> Ran:
        run = _Run(deployment, deployment.resource_version)
        for op in plan.ops:
            await self._one(op, run, routers)
        for event in plan.events:
            self.events.record(deployment.raw, event.type.value, event.reason, event.message)
        wrote = any(isinstance(op, PatchDeployment | WriteStatus) for op in plan.ops)
        return Ran(wrote, run.superseded)

    async def _one(self, op: Op, run: _Run, routers: RoutersFor) -> None:
        d = run.deployment
        ns = d.namespace
        if isinstance(op, RouteTraffic):
            await drive(await routers(), op)
        elif isinstance(op, RemoveRoutes):
            for router in await routers():
                await router.remove_managed_routes()
        elif isinstance(op, CleanupRoutes):
            for router in await routers():
                await router.cleanup()
        elif isinstance(op, PatchServiceSelector):
            await self._patch(ObjectRef("v1", "Service", ns, op.name), service_patch(op))
        elif isinstance(op, CreateService | CreateCanary):
            await self._create(dict(op.body))
        elif isinstance(op, DeleteService):
            await self._delete(ObjectRef("v1", "Service", ns, op.name))
        elif isinstance(op, ScaleCanary):
            ref = ObjectRef("apps/v1", "Deployment", ns, op.name)
            await self._patch(ref, {"spec": {"replicas": op.replicas}})
        elif isinstance(op, DeleteCanary):
            await self._delete(ObjectRef("apps/v1", "Deployment", ns, op.name))
        elif isinstance(op, OrphanCanary):
            ref = ObjectRef("apps/v1", "Deployment", ns, op.name)
            await self._delete(ref, propagation="Orphan", uid=op.uid)
        elif isinstance(op, DeleteReplicaSet):
            await self._delete(ObjectRef("apps/v1", "ReplicaSet", ns, op.name), uid=op.uid)
        elif isinstance(op, PatchDeployment):
            ref = ObjectRef("apps/v1", "Deployment", ns, d.name)
            run.wrote(await self._patch(ref, deployment_patch(op, run.rv)))
        elif isinstance(op, WriteStatus):
            ref = ObjectRef("apps/v1", "Deployment", ns, d.name)
            body = write_status_patch(op, run.rv)
            run.wrote(await self._patch(ref, body, subresource="status"))

    async def _patch(self, ref: ObjectRef, body: JSON, *, subresource: str = "") -> JSON:
        self.writes += 1
        if subresource:
            return await self.writer.patch(ref, body, patch_type="merge", subresource=subresource)
        # (a plain ObjectClient, e.g. render's offline one, has no subresources)
        return await self.writer.patch(ref, body, patch_type="merge")

    async def _create(self, body: JSON) -> None:
        self.writes += 1
        with contextlib.suppress(Conflict):  # made by an earlier attempt: the next plan checks it
            await self.writer.create(body)

    async def _delete(
        self, ref: ObjectRef, *, propagation: str = "Background", uid: str = ""
    ) -> None:
        self.writes += 1
        await self.writer.delete(ref, propagation=propagation, uid=uid)
