"""Leader election on a ``coordination.k8s.io/v1`` Lease (client-go ``leaderelection`` semantics).

Candidates share one Lease. ``decide`` (pure) says what a candidate does with the Lease it read:
create it, renew it (it holds it), take it over (nobody holds it, or the holder has not renewed
for ``leaseDurationSeconds`` *as observed locally*, which makes clocks of different machines
irrelevant), or wait. Every write is a ``PUT`` guarded by the ``resourceVersion`` just read
(k8s-semantics §3.12), so of two candidates racing only one succeeds; the other gets 409.
Times are written as MicroTime (``2006-01-02T15:04:05.000000Z``); ``leaseTransitions`` grows on
every change of holder.

``LeaderElector.run(lead)`` for ``canarist reconcile --leader-elect``::

    elector = LeaderElector(client, namespace="canarist-system", name="canarist-reconciler",
                            identity=f"{hostname}_{uuid4().hex[:8]}")
    lost = await elector.run(reconcile_forever)   # reconcile_forever: async () -> None

- tries to acquire every ``retry_period`` seconds until it holds the Lease, then starts
  ``lead()`` and renews every ``retry_period``;
- if no renewal succeeds for ``renew_deadline`` seconds, it cancels ``lead()`` and returns
  ``True`` (leadership lost: the caller should exit, so a restart starts clean);
- when ``lead()`` returns, or ``run`` is cancelled (SIGTERM), it releases the Lease (empty holder)
  so another candidate takes over at once instead of after ``lease_duration``; returns
  ``False``.

``lease_duration > renew_deadline > retry_period`` (client-go defaults 15 s, 10 s, 2 s).

``owners``: ``ownerReferences`` written on the Lease (e.g. the reconciler's Deployment, so that
uninstalling it leaves no Lease behind); ``deployment_owner`` reads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from webhook.errors import CanaristError, ConfigError, KubeError, Problem
from webhook.kube.client import KubeClient
from webhook.kube.protocol import JSON, ObjectRef

log = logging.getLogger("canarist.kube.leader")
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(MICRO)


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    duration: int
    acquire_time: dt.datetime | None
    renew_time: dt.datetime | None
    transitions: int
    resource_version: str

    @classmethod
    def of(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration=duration if isinstance(duration, int) else 0,
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            transitions=transitions if isinstance(transitions, int) else 0,
            resource_version=str((lease.get("metadata") or {}).get("resourceVersion") or ""),
        )

    def identity(self) -> tuple[str, Any, Any]:
        """What changes when anybody writes the record (to time observations)."""
        return (self.holder, self.renew_time, self.resource_version)


class Move(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    TAKE = "take"
    WAIT = "wait"


def decide(
    record: LeaseRecord | None, me: str, *, observed_for: float, lease_duration: float
) -> Move:
    """``observed_for``: seconds since this candidate last saw the record change."""
    if record is None:
        return Move.CREATE
    if record.holder == me:
        return Move.RENEW
    if not record.holder:
        return Move.TAKE
    duration = record.duration or lease_duration
    return Move.TAKE if observed_for >= duration else Move.WAIT


def lease_body(
    namespace: str,
    name: str,
    me: str,
    move: Move,
    record: LeaseRecord | None,
    now: dt.datetime,
    duration: int,
    owners: tuple[JSON, ...] = (),
) -> JSON:
    """The Lease to write for ``move`` (CREATE, RENEW or TAKE); ``owners``: its
    ``ownerReferences`` (what deletes it when deleted)."""
    stamp = micro_time(now)
    acquired = stamp
    transitions = record.transitions if record else 0
    if move is Move.RENEW and record is not None and record.acquire_time is not None:
        acquired = micro_time(record.acquire_time)
    elif move is Move.TAKE and record is not None:
        transitions += 1
    meta: JSON = {"name": name, "namespace": namespace}
    if record is not None:
        meta["resourceVersion"] = record.resource_version
    if owners:
        meta["ownerReferences"] = [dict(o) for o in owners]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": duration,
            "acquireTime": acquired,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        },
    }


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] = time.monotonic,
        owners: tuple[JSON, ...] = (),
    ) -> None:
        if not (lease_duration > renew_deadline > retry_period > 0):
            raise ConfigError([Problem(
                "leader election",
                "need lease duration > renew deadline > retry period > 0, got "
                f"{lease_duration}, {renew_deadline}, {retry_period}",
            )])
        if not identity:
            raise ConfigError([Problem("leader election", "identity must not be empty")])
        self.client = client
        self.ref = ObjectRef("coordination.k8s.io/v1", "Lease", namespace, name)
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._now = now
        self._mono = monotonic
        self._seen: tuple[Any, ...] | None = None
        self._seen_at = 0.0
        self.is_leader = False
        self.holder = ""  # the holder last observed
        self.owners = owners

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: read, decide, write; True when this candidate holds the Lease."""
        try:
            current = await self.client.get(self.ref)
        except KubeError as exc:
            log.info("lease %s: read failed: %s", self.ref, exc)
            return False
        record = LeaseRecord.of(current) if current is not None else None
        mono = self._mono()
        if record is not None and record.identity() != self._seen:
            self._seen, self._seen_at = record.identity(), mono
        self.holder = record.holder if record else ""
        move = decide(record, self.identity, observed_for=mono - self._seen_at,
                      lease_duration=self.lease_duration)
        if move is Move.WAIT:
            return False
        body = lease_body(self.ref.namespace, self.ref.name, self.identity, move, record,
                          self._now(), max(1, round(self.lease_duration)), self.owners)
        try:
            written = await (self.client.create(body) if move is Move.CREATE
                             else self.client.replace(body))
        except KubeError as exc:  # 409: another candidate wrote first
            log.debug("lease %s: %s failed: %s", self.ref, move.value, exc)
            return False
        new = LeaseRecord.of(written)
        self._seen, self._seen_at = new.identity(), self._mono()
        self.holder = self.identity
        if move is not Move.RENEW:
            log.info("lease %s: %s is the leader now", self.ref, self.identity)
        return True

    async def acquire(self) -> None:
        """Wait until this candidate holds the Lease."""
        while True:
            if await self.try_acquire_or_renew():
                self.is_leader = True
                return
            await asyncio.sleep(self.retry_period)

    async def release(self) -> None:
        """Give the Lease up (empty holder) if this candidate still holds it."""
        self.is_leader = False
        with contextlib.suppress(CanaristError):
            current = await self.client.get(self.ref)
            if current is None or LeaseRecord.of(current).holder != self.identity:
                return
            body = dict(current)
            body["spec"] = dict(current.get("spec") or {}, holderIdentity="",
                                leaseDurationSeconds=1, renewTime=micro_time(self._now()))
            await self.client.replace(body)
            log.info("lease %s: released by %s", self.ref, self.identity)

    async def _renew_until_lost(self) -> None:
        last_ok = self._mono()
        while True:
            await asyncio.sleep(self.retry_period)
            if await self.try_acquire_or_renew():
                last_ok = self._mono()
            elif self._mono() - last_ok >= self.renew_deadline or (
                self.holder and self.holder != self.identity
            ):
                log.warning("lease %s: %s lost the lease (holder now %r)", self.ref,
                            self.identity, self.holder)
                return

    async def run(self, lead: Callable[[], Awaitable[None]]) -> bool:
        """Acquire, run ``lead()`` while holding the Lease; True if the lease was lost."""
        await self.acquire()
        work = asyncio.ensure_future(lead())
        renew = asyncio.ensure_future(self._renew_until_lost())
        try:
            done, _ = await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            lost = renew in done
            if lost:
                self.is_leader = False
            return lost
        finally:
            for task in (work, renew):
                task.cancel()
            for task in (work, renew):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.is_leader:
                await asyncio.shield(self.release())
            failure = work.exception() if work.done() and not work.cancelled() else None
            if failure is not None:
                raise failure


async def deployment_owner(client: KubeClient, namespace: str, name: str) -> JSON | None:
    """The ``ownerReference`` of Deployment ``namespace/name`` (None if it does not exist)."""
    found = await client.get(ObjectRef("apps/v1", "Deployment", namespace, name))
    if found is None:
        return None
    uid = str((found.get("metadata") or {}).get("uid") or "")
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid}
