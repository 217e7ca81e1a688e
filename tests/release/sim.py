"""A small in-memory model of the objects a release touches, for planner tests.

It holds the API objects as JSON (the user's Deployment, its ReplicaSets, the canary Deployment,
Services) plus the state of a router, and plays the parts of the other actors (``sim_actors``):
the admission webhook, the Deployment controller, a user, the clock. ``Sim`` adds the reconciler:
it plans from the observed world and applies a plan's operations the way the loop's executor
does. Tests assert on the resulting objects, never on which functions were called.
"""

from __future__ import annotations

import copy
import dataclasses
import json

from tests.release.sim_actors import Actors, pod_template
from webhook.analysis.verdict import Reading, assess, due
from webhook.policy import ClusterPolicy
from webhook.release import measuring
from webhook.release.model import Slots, World, observe
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
from webhook.release.planner import plan
from webhook.spec import ReleaseStatus
from webhook.spec.hashing import revision_hash
from webhook.spec.names import ACTION, HISTORY, STATUS

__all__ = ["Sim", "pod_template", "released"]


class Sim(Actors):
    """``Actors`` and the reconciler: plans made from the observed world and applied to it.

    ``policy`` is the cluster policy covering the Deployment (the loop's match), ``slots`` what
    the loop counts for ``maxConcurrentReleases``."""

    policy: ClusterPolicy | None = None
    slots: Slots | None = None

    # --- the reconciler -----------------------------------------------------------------------

    def world(self, *, resync: bool = False) -> World:
        world = observe(
            self.deployment,
            canary=self.canary,
            replica_sets=self.replica_sets,
            services=self.services.values(),
            verified=self.router.verified(self.status.weight),
            resync=resync,
            policy=self.policy,
            handover=self.handover,
        )
        if self.slots is not None:
            world = dataclasses.replace(world, slots=self.slots)
        if self.readings is None:
            return world
        verdicts = []  # what the loop's Measurer does, with canned readings
        for run in measuring.runs(world):
            metrics = due(run.spec, run.state, self.now)
            readings = {m.name: Reading.of(self.readings[m.name]) for m in metrics}
            verdicts.append((run.kind, assess(run.spec, run.state, readings, self.now)))
        return measuring.with_verdicts(world, verdicts)

    def reconcile(self, *, resync: bool = False) -> Plan:
        p = plan(self.world(resync=resync), self.now)
        self.apply(p)
        self.plans.append(p)
        return p

    def run(self, rounds: int = 12) -> list[Plan]:
        """Reconcile and let controllers settle until a plan has nothing to do."""
        plans = []
        for _ in range(rounds):
            p = self.reconcile()
            self.settle()
            plans.append(p)
            if not p.ops:
                return plans
        raise AssertionError(f"no fixed point after {rounds} rounds: {plans[-1].ops}")

    def apply(self, p: Plan) -> None:
        for op in p.ops:
            self.apply_op(op)
        self.events.extend(p.events)

    def apply_op(self, op: Op) -> None:
        if isinstance(op, PatchServiceSelector):
            svc = self.services[op.name]
            sel = svc["spec"]["selector"]
            sel.update(op.set)
            for key in op.remove:
                sel.pop(key, None)
            ann = svc["metadata"].setdefault("annotations", {})
            for key, value in op.annotations.items():
                if value is None:
                    ann.pop(key, None)
                else:
                    ann[key] = value
            if op.service_type is not None:
                svc["spec"]["type"] = op.service_type
                svc["spec"]["ports"] = [dict(p) for p in op.ports]
        elif isinstance(op, CreateService):
            self.services.setdefault(op.name, copy.deepcopy(dict(op.body)))
        elif isinstance(op, DeleteService):
            self.services.pop(op.name, None)
        elif isinstance(op, CreateCanary):
            if self.canary is None:
                self.canary = copy.deepcopy(dict(op.body))
                tpl = self.canary["spec"]["template"]
                self.canary["metadata"]["uid"] = f"uid-canary-{revision_hash(tpl)}"
                self.canary["status"] = {"replicas": 0, "availableReplicas": 0}
        elif isinstance(op, ScaleCanary):
            assert self.canary is not None
            if self.canary["metadata"].get("deletionTimestamp"):
                # the Deployment controller only syncs the status of a Deployment being
                # deleted: a new count would never be acted on (a plan carried out again after
                # its hand-over orphaned the canary writes the same count: that changes nothing)
                assert self.canary["spec"]["replicas"] == op.replicas, "scaled while deleted"
            self.canary["spec"]["replicas"] = op.replicas  # pods go when settled
        elif isinstance(op, DeleteCanary):
            if self.canary is not None:
                meta = self.canary["metadata"]
                if meta.get("deletionTimestamp"):
                    meta["finalizers"] = []  # Background: takes Orphan's finalizer off
                else:
                    meta.update(deletionTimestamp="2026-03-01T13:00:00Z", finalizers=[])
                self._collect()  # its ReplicaSets go with it
        elif isinstance(op, OrphanCanary):
            canary = self.canary
            if canary is not None and canary["metadata"]["uid"] == op.uid:
                canary["metadata"].setdefault("deletionTimestamp", "2026-03-01T13:00:00Z")
                canary["metadata"]["finalizers"] = ["orphan"]  # orphaned when settled
        elif isinstance(op, DeleteReplicaSet):
            self.replica_sets = [
                rs for rs in self.replica_sets if rs["metadata"].get("uid") != op.uid
            ]
        elif isinstance(op, RouteTraffic):
            self._route(op)
        elif isinstance(op, RemoveRoutes):
            self.router.headers.clear()
            self.router.mirrors.clear()
        elif isinstance(op, CleanupRoutes):
            self.router.headers.clear()
            self.router.mirrors.clear()
            stable = self.status.stable_hash
            self.router.weight, self.router.canary_hash, self.router.stable_hash = 0, stable, stable
            self.router.cleaned = True  # the routing objects are the user's again
        elif isinstance(op, PatchDeployment):
            self.deployment_writes += 1
            before = json.dumps(self.d_spec, sort_keys=True)
            if op.paused is not None:
                self.d_spec["paused"] = op.paused
            if op.replicas is not None:
                self.d_spec["replicas"] = op.replicas
            self._write_status(op.status, op.consume_action, op.history, keep=op.status is None)
            if json.dumps(self.d_spec, sort_keys=True) != before:
                self.deployment["metadata"]["generation"] += 1  # only a spec change
        elif isinstance(op, WriteStatus):
            self.status_writes += 1
            self._write_status(op.status, op.consume_action, op.history, keep=False)

    def _write_status(
        self, status: ReleaseStatus | None, consume: bool, history: str | None, *, keep: bool
    ) -> None:
        if consume:
            self.annotations.pop(ACTION, None)
        if keep:
            return
        if status is None:
            self.annotations.pop(STATUS, None)
            self.annotations.pop(HISTORY, None)
        else:
            self.annotations[STATUS] = status.to_json()
            if history is not None:
                self.annotations[HISTORY] = history

    def _route(self, op: RouteTraffic) -> None:
        r = self.router
        available = (self.canary or {}).get("status", {}).get("availableReplicas", 0)
        if op.weight > 0 and available == 0:
            self.violations.append(f"weight {op.weight} to a canary without available pods")
        if not 0 <= op.weight <= 100 or op.weight + op.stable_weight != 100:
            self.violations.append(f"weight out of range: {op.weight}")
        before = r.snapshot()
        r.cleaned = False
        r.weight, r.canary_hash, r.stable_hash = op.weight, op.canary_hash, op.stable_hash
        for h in op.header_routes:
            if h.matches:
                r.headers[h.name] = h
            else:
                r.headers.pop(h.name, None)
        for m in op.mirror_routes:
            if m.matches:
                r.mirrors[m.name] = m
            else:
                r.mirrors.pop(m.name, None)
        if r.snapshot() != before:
            r.writes += 1
            r._checks = 0


def released(sim: Sim, version: str = "v2") -> Sim:
    """``sim`` settled, then a release of ``version`` run until it waits."""
    sim.run()
    sim.update_template(version)
    sim.run()
    return sim
