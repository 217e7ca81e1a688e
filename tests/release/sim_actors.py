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

from webhook.release.names import HASH_LABEL, POD_TEMPLATE_HASH
from webhook.release.ops import (
    Event,
    Plan,
)
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
        self.annotations[ACTION] = action
        self.deployment["metadata"]["generation"] += 1

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
        """Controllers catch up: ReplicaSets and pods of the user's Deployment and the canary."""
        d = self.deployment
        replicas = self.d_spec["replicas"]
        current = self.hash()
        rs_now = next(
            (rs for rs in self.replica_sets if revision_hash(rs["spec"]["template"]) == current),
            None,
        )
        if not self.d_spec.get("paused"):
            if rs_now is None:
                rs_now = self._new_rs()
            for rs in self.replica_sets:
                want = replicas if rs is rs_now else 0
                rs["spec"]["replicas"] = want
                rs["status"] = {"replicas": want, "availableReplicas": want}
        else:
            active = [
                rs for rs in self.replica_sets if rs["spec"]["replicas"] > 0
            ] or self.replica_sets[-1:]
            if len(active) == 1:
                active[0]["spec"]["replicas"] = replicas
                active[0]["status"] = {"replicas": replicas, "availableReplicas": replicas}
        d["status"] = {
            "observedGeneration": d["metadata"]["generation"],
            "replicas": sum(rs["status"]["replicas"] for rs in self.replica_sets),
            "updatedReplicas": rs_now["status"]["replicas"] if rs_now else 0,
            "availableReplicas": sum(rs["status"]["availableReplicas"] for rs in self.replica_sets),
        }
        if self.canary is not None and self.canary_ready:
            want = self.canary["spec"]["replicas"]
            if self.canary_limit is not None:
                want = min(want, self.canary_limit)
            self.canary["status"] = {"replicas": want, "availableReplicas": want}

    def _new_rs(self) -> JSON:
        tpl = copy.deepcopy(self.d_spec["template"])
        pth = f"p{len(self.replica_sets) + 1}"
        tpl["metadata"]["labels"][POD_TEMPLATE_HASH] = pth
        rs: JSON = {
            "metadata": {
                "name": f"web-{pth}",
                "labels": {"app": "web", POD_TEMPLATE_HASH: pth},
                "ownerReferences": [{"uid": UID, "kind": "Deployment", "name": "web"}],
            },
            "spec": {"replicas": 0, "template": tpl},
            "status": {"replicas": 0, "availableReplicas": 0},
        }
        self.replica_sets.append(rs)
        return rs

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
