"""The planner's scratch pad: the status being decided, and the plan being written.

``Work`` starts as a copy of the observed status (documented fields and ``Books``) and is
changed as the planner decides; ``Draft`` collects operations, Events and wake-up times. Both live
only inside one call of ``plan``, which stays a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from webhook.release import scaling
from webhook.release.bookkeeping import Books
from webhook.release.model import DeploymentView, World
from webhook.release.ops import Event, EventType, Op, Plan, RemoveRoutes, RouteTraffic
from webhook.release.stepping import ActiveRoutes
from webhook.release.timefmt import fmt
from webhook.spec import CanarySpec, Phase, ReleaseStatus, SetHeaderRoute, SetMirrorRoute

VERIFY_RETRY = 10.0  # seconds between weight checks while a router has not applied a weight
# Routers whose object canarist owns and without which no traffic flows at all: their routing is
# set up (weight 0) as soon as a Deployment is adopted, not at its first release.
SERVES_AT_REST = frozenset({"proxy"})


@dataclass
class Work:
    status: ReleaseStatus
    books: Books
    unpause: bool = False
    # the spec.replicas to write, in the plan's last write to the Deployment (with the status)
    replicas: int | None = None
    # the user's replica count R (``webhook.release.replicas``)
    total: int = 0
    # why no step may advance now (an inconclusive background analysis), or ""
    hold: str = ""

    @property
    def phase(self) -> Phase | None:
        return self.status.phase

    def set(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)

    def book(self, **changes: Any) -> None:
        self.books = self.books.with_(**changes)

    def final(self) -> ReleaseStatus:
        return self.books.into(self.status)


@dataclass
class Draft:
    ops: list[Op] = field(default_factory=list)
    # ops that wait for the plan's last write to the Deployment (a canary shrinking only after
    # the stable pods were asked for)
    later: list[Op] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    wakeups: list[float] = field(default_factory=list)

    def add(self, *ops: Op) -> None:
        self.ops.extend(ops)

    def add_later(self, *ops: Op) -> None:
        self.later.extend(ops)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        kind = EventType.WARNING if warning else EventType.NORMAL
        self.events.append(Event(reason, message, kind))

    def wake(self, seconds: float) -> None:
        self.wakeups.append(max(0.0, seconds))

    def plan(self) -> Plan:
        return Plan(
            (*self.ops, *self.later),
            merge_events(self.events),
            min(self.wakeups) if self.wakeups else None,
        )


# The reason a merged Event carries: the first of these among the plan's Events.
EVENT_PRIORITY = (
    "Aborted",
    "RolledBack",
    "OptedOut",
    "Promoted",
    "Promoting",
    "ServiceSwitched",
    "ReleaseRestarted",
    "ReleaseStarted",
    "Retried",
    "WeightChanged",
    "StepSkipped",
    "StepCompleted",
)


def merge_events(events: list[Event]) -> tuple[Event, ...]:
    """One Normal Event per plan (each Event is an API write): the most telling reason, every
    message in order. Warnings stay separate: each one says something is wrong."""
    normal = [e for e in events if e.type is EventType.NORMAL]
    warnings = tuple(e for e in events if e.type is not EventType.NORMAL)
    if len(normal) <= 1:
        return (*normal, *warnings)
    reasons = [e.reason for e in normal]
    reason = next((r for r in EVENT_PRIORITY if r in reasons), reasons[0])
    return (Event(reason, "; ".join(e.message for e in normal)), *warnings)


@dataclass(frozen=True)
class Ctx:
    """What every stage of one plan reads."""

    world: World
    spec: CanarySpec
    now: datetime

    @property
    def d(self) -> DeploymentView:
        return self.world.deployment

    @property
    def routed(self) -> bool:
        return self.spec.traffic_routed

    @property
    def n(self) -> int:
        return len(self.spec.steps)

    @property
    def stamp(self) -> str:
        return fmt(self.now)

    def fence(self, total: int) -> tuple[int, int]:
        """``(surge, unavailable)`` pods the Deployment's strategy allows for ``total`` pods."""
        return scaling.fenceposts(total, self.d.max_surge, self.d.max_unavailable)

    def stable_available(self, revision: str) -> int:
        return sum(rs.available for rs in self.world.revision(revision))

    def revision_available(self, revision: str) -> int:
        """Available pods of ``revision`` wherever they run: the user's ReplicaSets and the
        canary's (a promotion hands the canary's ReplicaSet over: until the user's Deployment
        adopts it, the stable revision's pods are the canary's). Routers select pods by the
        revision's hash, so all of them can take the stable side's traffic."""
        seen = {rs.uid for rs in self.world.replica_sets}
        others = (
            rs
            for rs in self.world.canary_replica_sets
            if rs.hash == revision and rs.uid not in seen and not rs.deleting
        )
        return self.stable_available(revision) + sum(rs.available for rs in others)


def route(
    ctx: Ctx,
    work: Work,
    draft: Draft,
    *,
    weight: int,
    hashes: tuple[str, str],
    routes: ActiveRoutes,
) -> None:
    """Drive the routers to ``weight``/``hashes``/``routes`` when that differs from what the
    status records (or on a resync), and record it. Router ``none`` has nothing to drive."""
    if not ctx.routed:
        return
    books, applied = work.books, work.status.weight
    recorded = books.routed_hashes is not None
    same = (weight, hashes, routes.keys) == (applied, books.routed_hashes, books.routes)
    if same and not ctx.world.resync:
        return
    if (
        not recorded
        and weight == 0
        and not routes.keys
        and hashes[0] == hashes[1]
        and not set(ctx.spec.routers) & SERVES_AT_REST
    ):
        return  # never routed and nothing to route: leave the routing objects alone
    active = set(routes.keys)
    header_removals = tuple(
        SetHeaderRoute(_name(k))
        for k in books.routes
        if k.startswith("header/") and k not in active
    )
    mirror_removals = tuple(
        SetMirrorRoute(_name(k))
        for k in books.routes
        if k.startswith("mirror/") and k not in active
    )
    headers = tuple(r for _, r in routes.headers)
    mirrors = tuple(r for _, r in routes.mirrors)
    # a weight going down leaves the canary's pods before the hashes move — unless only the
    # stable hash moves (a promotion's finish): the stable side must select the new pods before
    # it gets the traffic back
    routed = books.routed_hashes
    stable_only = routed is not None and routed[0] == hashes[0] and routed[1] != hashes[1]
    weight_first = weight < applied and not stable_only
    if routes.keys:
        draft.add(
            RouteTraffic(
                weight,
                hashes[0],
                hashes[1],
                headers + _dedupe(header_removals, headers),
                mirrors + _dedupe(mirror_removals, mirrors),
                weight_first=weight_first,
            )
        )
    else:
        draft.add(RouteTraffic(weight, hashes[0], hashes[1], weight_first=weight_first))
        if books.routes or ctx.world.resync:
            draft.add(RemoveRoutes())
    if weight != applied:
        draft.event("WeightChanged", f"traffic weight updated from {applied} to {weight}")
    work.set(
        weight=weight,
        header_routes=routes.header_names,
        mirror=",".join(routes.mirror_names) or None,
    )
    work.book(routed_hashes=hashes, routes=routes.keys)


def _name(key: str) -> str:
    return key.split("/", 1)[1].rsplit("@", 1)[0]


RouteT = TypeVar("RouteT", SetHeaderRoute, SetMirrorRoute)


def _dedupe(removals: tuple[RouteT, ...], active: tuple[RouteT, ...]) -> tuple[RouteT, ...]:
    names = {r.name for r in active}
    seen: set[str] = set()
    out = []
    for r in removals:
        if r.name not in names and r.name not in seen:
            seen.add(r.name)
            out.append(r)
    return tuple(out)


def floor_for(ctx: Ctx, revision: str, replicas: int) -> int:
    return scaling.stable_floor(ctx.revision_available(revision), replicas)
