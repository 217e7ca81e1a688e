"""Typed views of the objects the Deployment controller reads, parsed once at the boundary.

Plain JSON dicts (as stored by the API) become frozen dataclasses here; the planner works only
on these. apps/v1 defaults (``SetDefaults_Deployment``) are applied to missing fields so that a
Deployment stored without them behaves as upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.cluster.controllers.objects import (
    Obj,
    annotations_of,
    controller_uid,
    is_deleting,
    labels_of,
    meta,
    pod_phase,
)

MAX_INT32 = 2**31 - 1

IntOrPercent = int | str


@dataclass(frozen=True)
class Condition:
    """``apps/v1`` DeploymentCondition / ReplicaSetCondition."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_update_time: str = ""
    last_transition_time: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status}
        if self.last_update_time:
            out["lastUpdateTime"] = self.last_update_time
        if self.last_transition_time:
            out["lastTransitionTime"] = self.last_transition_time
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        return out

    @staticmethod
    def from_json(raw: Obj) -> Condition:
        return Condition(
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "")),
            reason=str(raw.get("reason") or ""),
            message=str(raw.get("message") or ""),
            last_update_time=str(raw.get("lastUpdateTime") or ""),
            last_transition_time=str(raw.get("lastTransitionTime") or ""),
        )


@dataclass(frozen=True)
class DeploymentStatus:
    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    collision_count: int | None = None
    conditions: tuple[Condition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Serialised as Go does: zero counts omitted (``omitempty``)."""
        out: dict[str, Any] = {}
        pairs = (
            ("observedGeneration", self.observed_generation),
            ("replicas", self.replicas),
            ("updatedReplicas", self.updated_replicas),
            ("readyReplicas", self.ready_replicas),
            ("availableReplicas", self.available_replicas),
            ("unavailableReplicas", self.unavailable_replicas),
        )
        for key, value in pairs:
            if value:
                out[key] = value
        if self.conditions:
            out["conditions"] = [c.to_json() for c in self.conditions]
        if self.collision_count is not None:
            out["collisionCount"] = self.collision_count
        return out

    @staticmethod
    def from_json(raw: Obj | None) -> DeploymentStatus:
        raw = raw or {}
        cc = raw.get("collisionCount")
        return DeploymentStatus(
            observed_generation=int(raw.get("observedGeneration") or 0),
            replicas=int(raw.get("replicas") or 0),
            updated_replicas=int(raw.get("updatedReplicas") or 0),
            ready_replicas=int(raw.get("readyReplicas") or 0),
            available_replicas=int(raw.get("availableReplicas") or 0),
            unavailable_replicas=int(raw.get("unavailableReplicas") or 0),
            collision_count=int(cc) if cc is not None else None,
            conditions=tuple(Condition.from_json(c) for c in raw.get("conditions") or ()),
        )


@dataclass(frozen=True)
class Deployment:
    namespace: str
    name: str
    uid: str
    generation: int
    replicas: int
    selector: Mapping[str, Any] | None
    template: Mapping[str, Any]
    strategy_type: str = "RollingUpdate"
    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"
    min_ready_seconds: int = 0
    revision_history_limit: int | None = 10
    progress_deadline_seconds: int | None = 600
    paused: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)
    status: DeploymentStatus = field(default_factory=DeploymentStatus)
    deleting: bool = False

    @property
    def is_rolling(self) -> bool:
        return self.strategy_type == "RollingUpdate"

    @property
    def has_progress_deadline(self) -> bool:
        """``HasProgressDeadline``: set and not MaxInt32."""
        d = self.progress_deadline_seconds
        return d is not None and d != MAX_INT32

    @property
    def has_revision_history_limit(self) -> bool:
        limit = self.revision_history_limit
        return limit is not None and limit != MAX_INT32


@dataclass(frozen=True)
class RSStatus:
    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ReplicaSet:
    name: str
    uid: str
    created: str
    replicas: int
    template: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    min_ready_seconds: int = 0
    generation: int = 1
    status: RSStatus = field(default_factory=RSStatus)
    controller_uid: str | None = None
    deleting: bool = False
    namespace: str = ""

    @property
    def active(self) -> bool:
        return self.replicas > 0


@dataclass(frozen=True)
class PodRef:
    """What the Deployment controller needs of a pod (Recreate waits on old pods)."""

    name: str
    owner_uid: str | None
    phase: str


def parse_deployment(raw: Obj) -> Deployment:
    md = meta(raw)
    spec = raw.get("spec") or {}
    strategy = spec.get("strategy") or {}
    stype = str(strategy.get("type") or "RollingUpdate")
    rolling = strategy.get("rollingUpdate") or {}
    replicas = spec.get("replicas")
    rhl = spec.get("revisionHistoryLimit", 10)
    pds = spec.get("progressDeadlineSeconds", 600)
    return Deployment(
        namespace=str(md.get("namespace", "")),
        name=str(md.get("name", "")),
        uid=str(md.get("uid", "")),
        generation=int(md.get("generation") or 0),
        replicas=1 if replicas is None else int(replicas),
        selector=spec.get("selector"),
        template=spec.get("template") or {},
        strategy_type=stype,
        max_surge=_int_or_percent(rolling.get("maxSurge", "25%")),
        max_unavailable=_int_or_percent(rolling.get("maxUnavailable", "25%")),
        min_ready_seconds=int(spec.get("minReadySeconds") or 0),
        revision_history_limit=None if rhl is None else int(rhl),
        progress_deadline_seconds=None if pds is None else int(pds),
        paused=bool(spec.get("paused", False)),
        annotations=dict(annotations_of(raw)),
        status=DeploymentStatus.from_json(raw.get("status")),
        deleting=is_deleting(raw),
    )


def _int_or_percent(value: Any) -> IntOrPercent:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return str(value)


def parse_replicaset(raw: Obj) -> ReplicaSet:
    md = meta(raw)
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    replicas = spec.get("replicas")
    return ReplicaSet(
        name=str(md.get("name", "")),
        uid=str(md.get("uid", "")),
        created=str(md.get("creationTimestamp") or ""),
        replicas=1 if replicas is None else int(replicas),
        template=spec.get("template") or {},
        labels=dict(labels_of(raw)),
        annotations=dict(annotations_of(raw)),
        min_ready_seconds=int(spec.get("minReadySeconds") or 0),
        generation=int(md.get("generation") or 0),
        status=RSStatus(
            replicas=int(status.get("replicas") or 0),
            fully_labeled_replicas=int(status.get("fullyLabeledReplicas") or 0),
            ready_replicas=int(status.get("readyReplicas") or 0),
            available_replicas=int(status.get("availableReplicas") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            conditions=tuple(Condition.from_json(c) for c in status.get("conditions") or ()),
        ),
        controller_uid=controller_uid(raw),
        deleting=is_deleting(raw),
        namespace=str(md.get("namespace") or ""),
    )


def parse_pod_ref(raw: Obj) -> PodRef:
    return PodRef(name=str(meta(raw).get("name", "")), owner_uid=controller_uid(raw),
                  phase=pod_phase(raw))
