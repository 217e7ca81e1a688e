"""What the planner sees: the API objects of one release, read into frozen views.

``observe`` is the boundary: it takes the JSON objects as the API serves them (the user's
Deployment, the canary Deployment, the user's ReplicaSets, the Services of the namespace) and
returns a ``World``. Everything after it works on typed, immutable values. Reading is lenient:
a missing field reads as its Kubernetes default, never as an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.analysis import AnalysisRecord
from webhook.policy import BypassRecord, ClusterPolicy, manage
from webhook.release.labels import selects
from webhook.release.names import (
    CANARY_SUFFIX,
    DESIRED_REPLICAS,
    ENABLED_LABEL,
    HASH_LABEL,
    MANAGED_BY_ANNOTATION,
    POD_TEMPLATE_HASH,
)
from webhook.release.specs import parsed_spec
from webhook.spec import CanarySpec, ReleaseStatus
from webhook.spec.hashing import revision_hash
from webhook.spec.names import STATUS
from webhook.spec.speccache import relevant

JSON = dict[str, Any]


def _map(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _map(value).items()}


def _int_or_percent(value: Any) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return value if isinstance(value, str) else None


def _deadline_exceeded(status: Mapping[str, Any]) -> bool:
    for cond in status.get("conditions") or ():
        if (
            isinstance(cond, Mapping)
            and cond.get("type") == "Progressing"
            and cond.get("reason") == "ProgressDeadlineExceeded"
        ):
            return True
    return False


def _owner_uids(meta: Mapping[str, Any]) -> tuple[str, ...]:
    refs = meta.get("ownerReferences") or ()
    return tuple(str(r.get("uid", "")) for r in refs if isinstance(r, Mapping))


def _controller_uid(meta: Mapping[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return str(ref.get("uid", ""))
    return None


@dataclass(frozen=True)
class DeploymentView:
    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    replicas: int
    paused: bool
    template: Mapping[str, Any]
    selector: Mapping[str, Any]
    hash: str
    generation: int
    observed_generation: int
    status_replicas: int
    updated_replicas: int
    available_replicas: int
    deadline_exceeded: bool
    deleting: bool
    resource_version: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    # spec.strategy.rollingUpdate (None: Kubernetes' default, 25%; a Recreate Deployment too)
    max_surge: int | str | None = None
    max_unavailable: int | str | None = None

    @property
    def opted_in(self) -> bool:
        return self.labels.get(ENABLED_LABEL) == "true"

    @property
    def canary_name(self) -> str:
        return self.name + CANARY_SUFFIX

    @property
    def rollout_complete(self) -> bool:
        """kubectl's "successfully rolled out" (k8s-semantics §1.13), for an unpaused Deployment."""
        return (
            self.generation <= self.observed_generation
            and self.updated_replicas >= self.replicas
            and self.status_replicas <= self.updated_replicas
            and self.available_replicas >= self.updated_replicas
        )

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> DeploymentView:
        meta, spec, status = (
            _map(obj.get("metadata")),
            _map(obj.get("spec")),
            _map(obj.get("status")),
        )
        template = _map(spec.get("template"))
        rolling = _map(_map(spec.get("strategy")).get("rollingUpdate"))
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            labels=_str_map(meta.get("labels")),
            annotations=_str_map(meta.get("annotations")),
            replicas=_int(spec.get("replicas"), 1),
            paused=spec.get("paused") is True,
            template=template,
            selector=_map(spec.get("selector")),
            hash=revision_hash(template),
            generation=_int(meta.get("generation")),
            observed_generation=_int(status.get("observedGeneration")),
            status_replicas=_int(status.get("replicas")),
            updated_replicas=_int(status.get("updatedReplicas")),
            available_replicas=_int(status.get("availableReplicas")),
            deadline_exceeded=_deadline_exceeded(status),
            deleting=bool(meta.get("deletionTimestamp")),
            resource_version=str(meta.get("resourceVersion", "")),
            raw=obj,
            max_surge=_int_or_percent(rolling.get("maxSurge")),
            max_unavailable=_int_or_percent(rolling.get("maxUnavailable")),
        )


@dataclass(frozen=True)
class CanaryView:
    """The canary Deployment ``<name>-canary``."""

    name: str
    hash: str
    replicas: int
    available: int
    owned: bool  # ownerReference to the user's Deployment (uid)
    deadline_exceeded: bool
    uid: str = ""
    deleting: bool = False
    template: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, obj: Mapping[str, Any], owner_uid: str) -> CanaryView:
        meta, spec, status = (
            _map(obj.get("metadata")),
            _map(obj.get("spec")),
            _map(obj.get("status")),
        )
        return cls(
            name=str(meta.get("name", "")),
            hash=revision_hash(_map(spec.get("template"))),
            replicas=_int(spec.get("replicas"), 1),
            available=_int(status.get("availableReplicas")),
            owned=bool(owner_uid) and owner_uid in _owner_uids(meta),
            deadline_exceeded=_deadline_exceeded(status),
            uid=str(meta.get("uid", "")),
            deleting=bool(meta.get("deletionTimestamp")),
            template=_map(spec.get("template")),
        )


@dataclass(frozen=True)
class ReplicaSetView:
    """One ReplicaSet (of the user's Deployment, or the canary's): which revision its pods run
    and how many, and what decides whether a Deployment adopts it (``webhook.release.handover``).
    """

    hash: str
    pod_template_hash: str
    stamped: bool  # its pods carry rollouts-pod-template-hash
    replicas: int
    available: int
    name: str = ""
    uid: str = ""
    controller: str | None = None  # uid of the ownerReference with controller: true
    deleting: bool = False
    desired: int | None = None  # deployment.kubernetes.io/desired-replicas
    labels: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    template: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ReplicaSetView:
        meta, spec, status = (
            _map(obj.get("metadata")),
            _map(obj.get("spec")),
            _map(obj.get("status")),
        )
        template = _map(spec.get("template"))
        tlabels = _str_map(_map(template.get("metadata")).get("labels"))
        pth = tlabels.get(POD_TEMPLATE_HASH) or _str_map(meta.get("labels")).get(
            POD_TEMPLATE_HASH, ""
        )
        desired = _str_map(meta.get("annotations")).get(DESIRED_REPLICAS, "")
        return cls(
            hash=revision_hash(template),
            pod_template_hash=pth,
            stamped=bool(tlabels.get(HASH_LABEL)),
            replicas=_int(spec.get("replicas")),
            available=_int(status.get("availableReplicas")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            controller=_controller_uid(meta),
            deleting=bool(meta.get("deletionTimestamp")),
            desired=int(desired) if desired.isdigit() else None,
            labels=_str_map(meta.get("labels")),
            template=template,
        )


@dataclass(frozen=True)
class ServiceView:
    name: str
    selector: Mapping[str, str]
    annotations: Mapping[str, str]
    owner_uids: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def managed_for(self, deployment: str) -> bool:
        return self.annotations.get(MANAGED_BY_ANNOTATION) == deployment

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ServiceView:
        meta, spec = _map(obj.get("metadata")), _map(obj.get("spec"))
        return cls(
            name=str(meta.get("name", "")),
            selector=_str_map(spec.get("selector")),
            annotations=_str_map(meta.get("annotations")),
            owner_uids=_owner_uids(meta),
            raw=obj,
        )


@dataclass(frozen=True)
class Slots:
    """``maxConcurrentReleases`` of the Deployment's policy, seen when its release would start:
    the releases holding a slot, and the queued ones that have waited longer."""

    limit: int
    running: tuple[str, ...]  # namespace/name
    ahead: int = 0

    @property
    def free(self) -> bool:
        return len(self.running) + self.ahead < self.limit


@dataclass(frozen=True)
class World:
    """Everything one reconcile of one Deployment looks at."""

    deployment: DeploymentView
    spec: CanarySpec | None
    spec_error: str | None
    status: ReleaseStatus
    canary: CanaryView | None
    replica_sets: tuple[ReplicaSetView, ...]
    services: tuple[ServiceView, ...]
    # What the routers report for the weight recorded in the status: True/False, or None when
    # no router can tell (then a weight counts as applied once written).
    verified: bool | None = None
    # A periodic resync: re-apply routing even when the status says it is in place.
    resync: bool = False
    # The analysis record after this reconcile's measurements (None: nothing was measured; the
    # status's record stands).
    analysis: AnalysisRecord | None = None
    # The cluster policy covering the Deployment (its first match), and whether canarist
    # manages it: the opt-in label, or a policy adopting it (webhook.policy.manage).
    policy: ClusterPolicy | None = None
    managed: bool = False
    # The last bypass of the policy by an exempt user, recorded by the webhook on the object.
    bypass: BypassRecord | None = None
    # Set when the policy limits concurrent releases and this release has yet to start.
    slots: Slots | None = None
    # The canary Deployment's ReplicaSets, and orphaned ones the user's selector matches (what a
    # promotion hands over, ``webhook.release.handover``).
    canary_replica_sets: tuple[ReplicaSetView, ...] = ()
    # Other Deployments of the namespace whose selector matches one of those ReplicaSets: any of
    # them could adopt it once it is an orphan.
    selecting: tuple[str, ...] = ()
    # Promotion may hand the canary's ReplicaSet over (``canarist reconcile --promotion``).
    handover: bool = True

    def service(self, name: str) -> ServiceView | None:
        return next((s for s in self.services if s.name == name), None)

    def revision(self, hash_: str) -> tuple[ReplicaSetView, ...]:
        return tuple(rs for rs in self.replica_sets if rs.hash == hash_)


def observe(
    deployment: Mapping[str, Any],
    *,
    canary: Mapping[str, Any] | None = None,
    replica_sets: Iterable[Mapping[str, Any]] = (),
    services: Iterable[Mapping[str, Any]] = (),
    verified: bool | None = None,
    resync: bool = False,
    deployments: Iterable[Mapping[str, Any]] = (),
    handover: bool = True,
    policy: ClusterPolicy | None = None,
) -> World:
    """Read the API objects of one release. ``replica_sets`` may hold every ReplicaSet of the
    namespace: those owned by ``deployment`` are its own, those of the canary (and orphans its
    selector matches) the canary's. ``deployments``: the namespace's other Deployments, when the
    promotion needs to know which of them select the canary's pods. ``policy`` is the cluster
    policy covering the Deployment, if any."""
    view = DeploymentView.of(deployment)
    canary_view = CanaryView.of(canary, view.uid) if canary is not None else None
    replica_sets = tuple(replica_sets)
    # (the status and the history change every step, the bypass record with each bypass: not
    # part of the key)
    spec, error = parsed_spec(
        view.name, tuple(sorted(relevant(view.annotations).items())), policy)
    owned_rs = tuple(
        ReplicaSetView.of(rs)
        for rs in replica_sets
        if view.uid and view.uid in _owner_uids(_map(rs.get("metadata")))
    )
    canary_rs = _canary_replica_sets(view, canary_view, replica_sets)
    return World(
        deployment=view,
        spec=spec,
        spec_error=error,
        status=ReleaseStatus.from_json(view.annotations.get(STATUS)),
        canary=canary_view,
        replica_sets=owned_rs,
        services=tuple(ServiceView.of(s) for s in services),
        verified=verified,
        resync=resync,
        policy=policy,
        managed=manage(view.labels, view.annotations, policy).managed,
        bypass=BypassRecord.of(view.annotations),
        canary_replica_sets=canary_rs,
        selecting=_selecting(view, deployments, canary_rs),
        handover=handover,
    )


def _canary_replica_sets(
    d: DeploymentView, canary: CanaryView | None, replica_sets: Iterable[Mapping[str, Any]]
) -> tuple[ReplicaSetView, ...]:
    out = []
    for raw in replica_sets:
        rs = ReplicaSetView.of(raw)
        if rs.controller is None:
            if selects(d.selector, rs.labels):
                out.append(rs)
        elif canary is not None and canary.uid and rs.controller == canary.uid:
            out.append(rs)
    return tuple(out)


def selecting(world: World, deployments: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The Deployments among ``deployments`` (other than the user's and its canary) whose
    selector matches one of the canary's ReplicaSets: each could adopt it once orphaned."""
    return _selecting(world.deployment, deployments, world.canary_replica_sets)


def _selecting(
    d: DeploymentView, deployments: Iterable[Mapping[str, Any]], rss: tuple[ReplicaSetView, ...]
) -> tuple[str, ...]:
    names = []
    for other in deployments:
        meta, spec = _map(other.get("metadata")), _map(other.get("spec"))
        name = str(meta.get("name", ""))
        if name in (d.name, d.canary_name) or meta.get("deletionTimestamp"):
            continue
        if any(selects(spec.get("selector"), rs.labels) for rs in rss):
            names.append(name)
    return tuple(sorted(names))
