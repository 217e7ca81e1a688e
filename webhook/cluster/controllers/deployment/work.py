"""The working state of one planned sync: the actions decided so far and the status being built.

Upstream mutates the Deployment and ReplicaSets through the API as it goes; here every write is
appended to ``actions`` and the in-memory views are updated exactly where upstream would use the
object the API returned (and left stale where upstream keeps the stale pointer).
"""

from __future__ import annotations

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import Deployment, DeploymentStatus, ReplicaSet
from webhook.cluster.controllers.deployment.plan import (
    Action,
    Event,
    Plan,
    RecordEvent,
    UpdateReplicaSet,
)


class Work:
    def __init__(self, d: Deployment, now: float) -> None:
        self.d = d
        self.now = now
        self.status: DeploymentStatus = d.status
        self.revision: str | None = None
        self.actions: list[Action] = []
        self.requeue_after: float | None = None
        self.retry = False
        self.error: str | None = None

    # --- writes --------------------------------------------------------------------------------

    def event(self, etype: str, reason: str, message: str) -> None:
        self.actions.append(RecordEvent(Event(etype, reason, message)))

    def update_rs(self, rs: ReplicaSet, *, replicas: int, annotations: dict[str, str],
                  min_ready_seconds: int | None = None, event: Event | None = None) -> ReplicaSet:
        mrs = rs.min_ready_seconds if min_ready_seconds is None else min_ready_seconds
        self.actions.append(UpdateReplicaSet(rs.name, replicas, annotations, mrs, event))
        return ReplicaSet(
            name=rs.name, uid=rs.uid, created=rs.created, replicas=replicas,
            template=rs.template, labels=rs.labels, annotations=annotations,
            min_ready_seconds=mrs,
            generation=rs.generation + (1 if (replicas, mrs) != (rs.replicas,
                                                                   rs.min_ready_seconds) else 0),
            status=rs.status, controller_uid=rs.controller_uid, deleting=rs.deleting,
        )

    def scale(self, rs: ReplicaSet, new_scale: int, operation: str) -> tuple[bool, ReplicaSet]:
        """``scaleReplicaSet``: write when the size or the replica annotations differ; only a
        size change counts as scaled and records ``ScalingReplicaSet``."""
        d = self.d
        desired, maximum = d.replicas, d.replicas + util.max_surge(d)
        size_changes = rs.replicas != new_scale
        if not size_changes and not util.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        ann = dict(rs.annotations)
        util.set_replicas_annotations(ann, desired, maximum)
        event = None
        if size_changes:
            event = Event("Normal", "ScalingReplicaSet",
                          f"Scaled {operation} replica set {rs.name} from {rs.replicas} to "
                          f"{new_scale}")
        updated = self.update_rs(rs, replicas=new_scale, annotations=ann, event=event)
        return size_changes, updated

    def scale_and_record(self, rs: ReplicaSet, new_scale: int) -> tuple[bool, ReplicaSet]:
        """``scaleReplicaSetAndRecordEvent``: nothing when the size already matches."""
        if rs.replicas == new_scale:
            return False, rs
        operation = "down" if rs.replicas > new_scale else "up"
        return self.scale(rs, new_scale, operation)

    def fail(self, message: str) -> None:
        """Upstream returns an error from the sync here: stop, keep the writes already made,
        and requeue rate-limited."""
        self.error = message
        self.retry = True

    # --- result --------------------------------------------------------------------------------

    def finish(self, status: DeploymentStatus | None = None) -> Plan:
        """The plan; ``status`` is the final computed status (``None``: keep the working one)."""
        final = self.status if status is None else status
        return Plan(
            actions=tuple(self.actions),
            status=None if final == self.d.status else final,
            revision=self.revision,
            requeue_after=self.requeue_after,
            retry=self.retry,
            notes=() if self.error is None else (self.error,),
        )
