"""A plan: the ordered writes one reconcile makes, the Events it emits, when to look again.

Operations are data. The loop (``webhook.release.execute``) carries them out in order and stops at
the first failure, so each operation may assume the ones before it succeeded: the planner puts
"weight 0" before "delete the old canary", "pin the stable Service" before "create the canary".
Every operation is idempotent: carrying out a plan twice leaves the cluster as once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from webhook.spec import ReleaseStatus, SetHeaderRoute, SetMirrorRoute


@dataclass(frozen=True)
class PatchServiceSelector:
    """Merge-patch a Service's selector: ``set`` these keys, delete ``remove``, and set (or with
    ``None`` delete) ``annotations``; with ``service_type``, change the type and write ``ports``
    (without node port numbers: the API server keeps or allocates them)."""

    name: str
    set: Mapping[str, str]
    remove: tuple[str, ...] = ()
    annotations: Mapping[str, str | None] = field(default_factory=dict)
    service_type: str | None = None
    ports: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CreateService:
    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


@dataclass(frozen=True)
class DeleteService:
    name: str


@dataclass(frozen=True)
class CreateCanary:
    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


@dataclass(frozen=True)
class ScaleCanary:
    name: str
    replicas: int


@dataclass(frozen=True)
class DeleteCanary:
    name: str


@dataclass(frozen=True)
class OrphanCanary:
    """Delete the canary Deployment with ``propagationPolicy: Orphan``, guarded by its ``uid``:
    the garbage collector takes its ownerReference off its ReplicaSet, which keeps its pods and
    is adopted by the user's Deployment (``webhook.release.handover``)."""

    name: str
    uid: str


@dataclass(frozen=True)
class DeleteReplicaSet:
    """Delete a ReplicaSet (and, in the background, its pods), guarded by its ``uid``."""

    name: str
    uid: str


@dataclass(frozen=True)
class RouteTraffic:
    """Drive every router to this state: ``weight`` percent to the canary (the stable side gets
    the rest), hash-pinned selections on ``canary_hash``/``stable_hash``, and header and mirror
    routes (a route without matches is a removal). With ``weight_first`` the weight is written
    before the hashes: a weight is going down and must leave the old pods first."""

    weight: int
    canary_hash: str
    stable_hash: str
    header_routes: tuple[SetHeaderRoute, ...] = ()
    mirror_routes: tuple[SetMirrorRoute, ...] = ()
    weight_first: bool = False

    @property
    def stable_weight(self) -> int:
        return 100 - self.weight


@dataclass(frozen=True)
class RemoveRoutes:
    """``remove_managed_routes`` on every router."""


@dataclass(frozen=True)
class CleanupRoutes:
    """``cleanup`` on every router: the Deployment left canarist or was deleted, so every trace
    of it goes from the routing objects (weights, routes, added destinations, records)."""


@dataclass(frozen=True)
class PatchDeployment:
    """A write to the user's Deployment spec (paused, replicas), with the status annotation in
    the same write so that the admission webhook sees ``phase: Promoting`` when unpausing."""

    paused: bool | None = None
    replicas: int | None = None
    status: ReleaseStatus | None = None
    consume_action: bool = False
    history: str | None = None  # ``canarist.io/history`` when it changed


@dataclass(frozen=True)
class WriteStatus:
    """Write the status annotation through the status subresource (no ``generation`` bump), and
    remove ``canarist.io/action`` when it was consumed; ``history``: ``canarist.io/history`` when
    it changed. ``status=None`` removes both annotations."""

    status: ReleaseStatus | None
    consume_action: bool = False
    history: str | None = None


Op = (
    PatchServiceSelector
    | CreateService
    | DeleteService
    | CreateCanary
    | ScaleCanary
    | DeleteCanary
    | OrphanCanary
    | DeleteReplicaSet
    | RouteTraffic
    | RemoveRoutes
    | CleanupRoutes
    | PatchDeployment
    | WriteStatus
)


T = TypeVar("T")


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: EventType = EventType.NORMAL


@dataclass(frozen=True)
class Plan:
    ops: tuple[Op, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None

    def of_type(self, kind: type[T]) -> list[T]:
        return [op for op in self.ops if isinstance(op, kind)]

    @property
    def status(self) -> ReleaseStatus | None:
        """The status this plan writes, if it writes one."""
        for op in reversed(self.ops):
            if isinstance(op, WriteStatus | PatchDeployment) and op.status is not None:
                return op.status
        return None
