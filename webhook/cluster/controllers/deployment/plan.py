"""What one sync of a Deployment decided: API writes in order, the status to record, a requeue.

The planner never talks to the API; the controller loop executes a ``Plan`` action by action and
stops at the first failure (upstream returns the error and the key is requeued rate-limited).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.controllers.deployment.model import DeploymentStatus


@dataclass(frozen=True)
class Event:
    """A core/v1 Event about the Deployment (``eventRecorder.Eventf``)."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class CreateReplicaSet:
    name: str
    manifest: Mapping[str, Any]
    event: Event | None = None


@dataclass(frozen=True)
class UpdateReplicaSet:
    """A full update of the cached ReplicaSet: replicas, annotations, minReadySeconds."""

    name: str
    replicas: int
    annotations: Mapping[str, str]
    min_ready_seconds: int
    event: Event | None = None


@dataclass(frozen=True)
class DeleteReplicaSet:
    name: str
    uid: str


@dataclass(frozen=True)
class AdoptReplicaSet:
    """Strategic-merge patch adding our controller ownerReference (uid as a guard)."""

    name: str
    uid: str


@dataclass(frozen=True)
class ReleaseReplicaSet:
    """Strategic-merge patch deleting our ownerReference (``$patch: delete``)."""

    name: str
    uid: str


@dataclass(frozen=True)
class RecordEvent:
    event: Event


Action = (CreateReplicaSet | UpdateReplicaSet | DeleteReplicaSet | AdoptReplicaSet
          | ReleaseReplicaSet | RecordEvent)


@dataclass(frozen=True)
class Plan:
    """``actions`` run in order; then, if ``status`` or ``revision`` is set, one UpdateStatus.

    ``requeue_after`` (seconds) asks for a later sync (progress deadline checks);
    ``retry`` asks for a rate-limited requeue (upstream returned an error);
    ``notes`` holds that error's message.
    """

    actions: tuple[Action, ...] = ()
    status: DeploymentStatus | None = None
    revision: str | None = None
    requeue_after: float | None = None
    retry: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def writes_deployment(self) -> bool:
        return self.status is not None or self.revision is not None
