"""The objects a release touches, as JSON, and the actors other than the reconciler.

The user's Deployment, its ReplicaSets, the canary Deployment, Services and the state of a router;
the admission webhook (``update_template``), the Deployment controller (``settle``), a user
(``annotate``, ``set_replicas``), the clock (``advance``). ``sim.Sim`` adds the reconciler.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from webhook.release.bookkeeping import Books
from webhook.release.names import HASH_LABEL, POD_TEMPLATE_HASH
from webhook.release.ops import (
    Event,
    Plan,
)
from webhook.release.replicas import user_total
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.hashing import revision_hash
from webhook.spec.names import ACTION, ENABLED_LABEL, STATUS

JSON = dict[str, Any]
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NS = "shop"
UID = "uid-web"


def pod_template(version: str, *, stamp: bool = True, env: dict[str, str] | None = None) -> JSON:
    tpl: JSON = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": f"demo:{version}",
                    "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())],
                }
            ]
        },
    }
    if stamp:
        tpl["metadata"]["labels"][HASH_LABEL] = revision_hash(tpl)
    return tpl


@dataclass
class Router:
    """What a router's objects say: the weight, the hashes, the managed routes."""

    weight: int = 0
    canary_hash: str = ""
    stable_hash: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    mirrors: dict[str, Any] = field(default_factory=dict)
    writes: int = 0
    # a router that verifies: how many checks a new weight takes to show up (None: cannot tell)
    verify_lag: int | None = None
    cleaned: bool = False  # ``cleanup``: no hash-pinned routing left
    _checks: int = 0

    def snapshot(self) -> tuple[Any, ...]:
        return (
            self.weight,
            self.canary_hash,
            self.stable_hash,
            dict(self.headers),
            dict(self.mirrors),
        )

    def verified(self, weight: int) -> bool | None:
        if self.verify_lag is None:
            return None
        if weight != self.weight:
            return False
        self._checks += 1
        return self._checks > self.verify_lag



DESIRED = "deployment.kubernetes.io/desired-replicas"


def _controller(rs: JSON) -> str | None:
    for ref in rs["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref["uid"])
    return None


def _same(a: JSON, b: JSON) -> bool:
    """``EqualIgnoreHash``."""
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    a["metadata"]["labels"].pop(POD_TEMPLATE_HASH, None)
    b["metadata"]["labels"].pop(POD_TEMPLATE_HASH, None)
    return a == b


def _saturated(rs: JSON, replicas: int) -> bool:
    """``IsSaturated``."""
    desired = rs["metadata"].get("annotations", {}).get(DESIRED)
    return bool(
        rs["spec"]["replicas"] == replicas
        and desired == str(replicas)
        and rs["status"]["availableReplicas"] == replicas
    )


class Actors:
    """The objects a release touches, and every actor but the reconciler."""

    def __init__(
        self,
        annotations: dict[str, str] | None = None,
        *,
        replicas: int = 4,
        adopted: bool = False,
        services: tuple[str, ...] = ("web",),
    ) -> None:
        self.now = T0
        tpl = pod_template("v1", stamp=not adopted)
        self.deployment: JSON = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": NS,
                "uid": UID,
                "generation": 1,
                "labels": {"app": "web", ENABLED_LABEL: "true"},
                "annotations": dict(annotations or {}),
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": tpl,
                "strategy": {"type": "RollingUpdate"},
            },
            "status": {},
        }
        self.replica_sets: list[JSON] = []
        self.canary: JSON | None = None
        self.services: dict[str, JSON] = {
            name: {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
                "spec": {
                    "type": "NodePort",
                    "clusterIP": "10.0.0.7",
                    "clusterIPs": ["10.0.0.7"],
                    "selector": {"app": "web"},
                    "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}],
                },
            }
            for name in services
        }
        self.router = Router()
        self.events: list[Event] = []
        self.plans: list[Plan] = []
        self.canary_ready = True  # canary pods become available when settled
        self.canary_limit: int | None = None  # at most this many canary pods become available
        self.readings: dict[str, float] | None = None  # what the metrics read, when measured
        self.deployment_writes = 0
        self.status_writes = 0
        self.violations: list[str] = []
        self.pods_created = 0  # by every ReplicaSet, since the start
        self.handover = True  # canarist reconcile --promotion handover (False: rollout)
        self.settle()

    # --- the other actors -------------------------------------------------------------------

    @property
    def d_spec(self) -> JSON:
        return self.deployment["spec"]  # type: ignore[no-any-return]

    @property
    def annotations(self) -> dict[str, str]:
        return self.deployment["metadata"]["annotations"]  # type: ignore[no-any-return]

    @property
    def status(self) -> ReleaseStatus:
        return ReleaseStatus.from_json(self.annotations.get(STATUS))

    def hash(self) -> str:
        return revision_hash(self.d_spec["template"])

    def update_template(self, version: str, **env: str) -> None:
        """``kubectl apply`` of a new template, as the admission webhook mutates it."""
        tpl = pod_template(version, env=env)
        new = tpl["metadata"]["labels"][HASH_LABEL]
        if new == self.hash():
            return  # the same template again: nothing changes
        status = self.status
        stable = status.stable_hash or self.hash()
        self.d_spec["template"] = tpl
        self.deployment["metadata"]["generation"] += 1
        if new == stable:
            self.d_spec["paused"] = False
            status = status.with_(canary_hash=stable)
        else:
            self.d_spec["paused"] = True
            status = status.with_(
                canary_hash=new, phase=Phase.PROGRESSING, step=0, stable_hash=stable
            )
        self.annotations[STATUS] = status.to_json()

    def revert(self, version: str = "v1", *, adopted: bool = False) -> None:
        """The user re-applies the stable template."""
        tpl = pod_template(version, stamp=not adopted)
        stable = self.status.stable_hash
        assert revision_hash(tpl) == stable
        self.d_spec["template"] = tpl
        self.d_spec["paused"] = False
        self.deployment["metadata"]["generation"] += 1
        self.annotations[STATUS] = self.status.with_(canary_hash=stable).to_json()

    def annotate(self, action: str) -> None:
        self.annotations[ACTION] = action  # metadata: no new generation

    def set_replicas(self, replicas: int) -> None:
        self.d_spec["replicas"] = replicas
        self.deployment["metadata"]["generation"] += 1

    def opt_out(self) -> None:
        self.deployment["metadata"]["labels"].pop(ENABLED_LABEL)

    def delete(self) -> None:
        self.deployment["metadata"]["deletionTimestamp"] = "2026-03-01T13:00:00Z"

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def settle(self) -> None:
        """Controllers catch up: the garbage collector, the canary's and the user's Deployment
        controllers (adoption, new ReplicaSet, paused scaling as upstream's ``scale``), the
        ReplicaSet controller (pods, at once). Then traffic is checked: whatever carries weight
        has available pods."""
        self._collect()
        self._canary_controller()
        self._user_controller()
        self._check_traffic()

    def _collect(self) -> None:
        """The garbage collector: a canary deleted with ``Orphan`` leaves its ReplicaSets without
        owner; deleted otherwise, they go with it."""
        canary = self.canary
        if canary is None or not canary["metadata"].get("deletionTimestamp"):
            return
        uid = canary["metadata"]["uid"]
        orphan = "orphan" in canary["metadata"].get("finalizers", [])
        for rs in list(self.replica_sets):
            if _controller(rs) == uid:
                if orphan:
                    rs["metadata"]["ownerReferences"] = []
                else:
                    self.replica_sets.remove(rs)
        self.canary = None

    def _canary_controller(self) -> None:
        canary = self.canary
        if canary is None:
            return
        uid = canary["metadata"]["uid"]
        tpl = canary["spec"]["template"]
        own = [rs for rs in self.replica_sets if _controller(rs) == uid]
        rs = next((r for r in own if _same(r["spec"]["template"], tpl)), None)
        if rs is None:
            rs = self._new_rs(tpl, f"web-canary-c{len(self.replica_sets) + 1}", uid)
        want = canary["spec"]["replicas"]
        available = want if self.canary_ready else rs["status"]["availableReplicas"]
        if self.canary_limit is not None:
            available = min(available, self.canary_limit)
        self._scale(rs, want, min(want, available))
        canary["status"] = {"replicas": want, "availableReplicas": rs["status"][
            "availableReplicas"]}

    def _user_controller(self) -> None:
        d, replicas = self.deployment, self.d_spec["replicas"]
        deleting = bool(d["metadata"].get("deletionTimestamp"))
        for rs in self.replica_sets:  # ClaimReplicaSets: orphans the selector matches
            labels = rs["metadata"]["labels"]
            if _controller(rs) is None and labels.get("app") == "web" and not deleting:
                rs["metadata"]["ownerReferences"] = [
                    {"uid": UID, "kind": "Deployment", "name": "web", "controller": True}
                ]
        own = [rs for rs in self.replica_sets if _controller(rs) == UID]
        new = next((rs for rs in own if _same(rs["spec"]["template"], self.d_spec["template"])),
                   None)  # FindNewReplicaSet: the oldest with the template
        olds = [rs for rs in own if rs is not new]
        if not self.d_spec.get("paused"):
            if new is None:
                new = self._new_rs(self.d_spec["template"], f"web-p{len(self.replica_sets) + 1}",
                                   UID)
                own.append(new)
            for rs in own:
                want = replicas if rs is new else 0
                self._scale(rs, want, want)
        else:
            active = [rs for rs in [*olds, new] if rs is not None and rs["spec"]["replicas"] > 0]
            if len(active) <= 1:  # FindActiveOrLatest
                target = active[0] if active else (new or (olds[-1] if olds else None))
                if target is not None:
                    self._scale(target, replicas, replicas)
            elif new is not None and _saturated(new, replicas):
                for rs in olds:
                    self._scale(rs, 0, 0)
        d["status"] = {
            "observedGeneration": d["metadata"]["generation"],
            "replicas": sum(rs["status"]["replicas"] for rs in own),
            "updatedReplicas": new["status"]["replicas"] if new else 0,
            "availableReplicas": sum(rs["status"]["availableReplicas"] for rs in own),
        }

    def _scale(self, rs: JSON, want: int, available: int) -> None:
        """The ReplicaSet controller and the kubelet: pods created or deleted at once."""
        before = rs["status"]["replicas"]
        if want > before:
            self.pods_created += want - before
        rs["spec"]["replicas"] = want
        rs["metadata"].setdefault("annotations", {})[DESIRED] = str(want)
        rs["status"] = {"replicas": want, "availableReplicas": available}

    def _new_rs(self, template: JSON, name: str, owner: str) -> JSON:
        tpl = copy.deepcopy(template)
        pth = name.rsplit("-", 1)[1]
        tpl["metadata"]["labels"][POD_TEMPLATE_HASH] = pth
        rs: JSON = {
            "metadata": {
                "name": name,
                "uid": f"uid-{name}",
                "labels": dict(tpl["metadata"]["labels"]),
                "annotations": {},
                "ownerReferences": [{"uid": owner, "kind": "Deployment", "controller": True}],
            },
            "spec": {"replicas": 0, "template": tpl},
            "status": {"replicas": 0, "availableReplicas": 0},
        }
        self.replica_sets.append(rs)
        return rs

    def _check_traffic(self) -> None:
        """No traffic loss by design: a side with weight keeps pods of the hash it selects (pods
        that fail their probes are the environment's doing, and ``_route`` checks that no weight
        goes to a canary without available pods)."""
        r = self.router
        if r.cleaned or not r.canary_hash or not r.stable_hash:
            return
        if user_total(self.d_spec["replicas"], Books.of(self.status)).replicas == 0:
            return  # scaled to zero: nothing serves, by the user's choice
        sides = [(r.weight, r.canary_hash), (100 - r.weight, r.stable_hash)]
        if self.canary is not None and self.canary["spec"]["replicas"] == 0:
            sides.pop(0)  # a step's setCanaryScale {replicas: 0}: the user's (Argo's) choice
        if self.status.phase == Phase.PROMOTING and r.weight == 0:
            sides.pop()  # promoted at 0 replicas, then scaled: the stable Service has the new pods
        for weight, hash_ in sides:
            if weight > 0 and not self.pods_of(hash_):
                self.violations.append(f"weight {weight} to {hash_} without pods")

    def pods_of(self, hash_: str) -> int:
        return sum(
            rs["spec"]["replicas"]
            for rs in self.replica_sets
            if revision_hash(rs["spec"]["template"]) == hash_
        )

    # --- views for assertions -----------------------------------------------------------------

    def selector(self, name: str) -> dict[str, str]:
        return dict(self.services[name]["spec"]["selector"])

    def phase(self) -> Phase | None:
        return self.status.phase

    def paused(self) -> bool:
        return self.d_spec.get("paused") is True

    def canary_replicas(self) -> int | None:
        return None if self.canary is None else int(self.canary["spec"]["replicas"])

    def state(self) -> str:
        """Everything observable, for idempotence checks."""
        return json.dumps(
            [
                self.deployment,
                self.canary,
                self.services,
                self.replica_sets,
                repr(self.router.snapshot()),
            ],
            sort_keys=True,
            default=str,
        )

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]
