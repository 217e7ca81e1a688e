"""A small in-memory world for the Deployment controller's sync, planned without an API.

``World`` applies each ``Plan`` and plays the ReplicaSet controller: after a ``settle`` every RS
reports ``status.replicas == spec.replicas`` and the pods created in the previous round become
available, so rollouts proceed step by step as upstream's do.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from webhook.cluster.controllers.deployment import util
from webhook.cluster.controllers.deployment.model import (
    Condition,
    Deployment,
    DeploymentStatus,
    PodRef,
    ReplicaSet,
    RSStatus,
    parse_replicaset,
)
from webhook.cluster.controllers.deployment.plan import (
    AdoptReplicaSet,
    CreateReplicaSet,
    DeleteReplicaSet,
    Plan,
    RecordEvent,
    ReleaseReplicaSet,
    UpdateReplicaSet,
)
from webhook.cluster.controllers.deployment.sync import plan_sync
from webhook.cluster.controllers.objects import format_time

T0 = 1_700_000_000.0


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = {"namespace": "ns", "name": "web", "uid": "d-uid", "generation": 1,
                            "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                            "template": template("demo:1")}
    base.update(kw)
    return Deployment(**base)


class World:
    """Applies plans; ``settle`` plays the ReplicaSet controller and the kubelet."""

    def __init__(self, d: Deployment, now: float = T0) -> None:
        self.d = d
        self.now = now
        self.rss: dict[str, ReplicaSet] = {}
        self.events: list[str] = []
        self.pods: list[PodRef] = []
        self.plans: list[Plan] = []
        self._n = 0

    def add_rs(self, rs: ReplicaSet) -> None:
        self.rss[rs.name] = rs

    def sync(self) -> Plan:
        plan = plan_sync(self.d, list(self.rss.values()), self.pods, self.now)
        self.apply(plan)
        self.plans.append(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        for action in plan.actions:
            match action:
                case CreateReplicaSet(name=name, manifest=manifest, event=event):
                    self._n += 1
                    raw = copy.deepcopy(dict(manifest))
                    raw["metadata"].update(uid=f"rs-{self._n}", generation=1,
                                           creationTimestamp=format_time(self.now + self._n))
                    self.rss[name] = parse_replicaset(raw)
                    if event:
                        self.events.append(event.message)
                case UpdateReplicaSet(name=name, replicas=n, annotations=ann,
                                      min_ready_seconds=mrs, event=event):
                    old = self.rss[name]
                    bump = 1 if (n, mrs) != (old.replicas, old.min_ready_seconds) else 0
                    self.rss[name] = replace(old, replicas=n, annotations=dict(ann),
                                             min_ready_seconds=mrs,
                                             generation=old.generation + bump)
                    if event:
                        self.events.append(event.message)
                case DeleteReplicaSet(name=name):
                    del self.rss[name]
                case AdoptReplicaSet(name=name):
                    self.rss[name] = replace(self.rss[name], controller_uid=self.d.uid)
                case ReleaseReplicaSet(name=name):
                    self.rss[name] = replace(self.rss[name], controller_uid=None)
                case RecordEvent(event=event):
                    self.events.append(f"{event.reason}: {event.message}")
        if plan.status is not None:
            self.d = replace(self.d, status=plan.status)
        if plan.revision is not None:
            self.d = replace(self.d, annotations={**self.d.annotations,
                                                  util.REVISION: plan.revision})

    def settle(self, *, ready: bool = True) -> None:
        """Pods of last round become available (``ready=False``: no pod becomes available);
        status.replicas follows spec at once."""
        for name, rs in self.rss.items():
            prev = rs.status.replicas if ready else rs.status.available_replicas
            avail = min(rs.replicas, prev)
            self.rss[name] = replace(rs, status=RSStatus(
                replicas=rs.replicas, fully_labeled_replicas=rs.replicas, ready_replicas=avail,
                available_replicas=avail, observed_generation=rs.generation))

    def run(self, rounds: int = 60) -> None:
        for _ in range(rounds):
            self.sync()
            self.settle()
            self.now += 1

    def sizes(self) -> dict[str, int]:
        return {name: rs.replicas for name, rs in self.rss.items()}

    def new_rs(self) -> ReplicaSet:
        [match] = [rs for rs in self.rss.values()
                   if rs.template["spec"] == self.d.template["spec"]]
        return match

    def change_template(self, image: str, **kw: Any) -> None:
        self.d = replace(self.d, template=template(image), generation=self.d.generation + 1, **kw)

    def condition(self, ctype: str) -> tuple[str, str] | None:
        c = util.get_condition(self.d.status.conditions, ctype)
        return (c.status, c.reason) if c else None


def cond(status: DeploymentStatus, ctype: str) -> Condition:
    found = util.get_condition(status.conditions, ctype)
    assert found is not None, f"no {ctype} condition"
    return found


def rolled_out(image: str = "demo:1", **kw: Any) -> World:
    w = World(deployment(template=template(image), **kw))
    w.run(8)
    assert w.condition(util.PROGRESSING) == ("True", util.NEW_RS_AVAILABLE_REASON)
    return w
