"""The reconcile loop: watch-driven, level-triggered, all state in the cluster.

Informers (``webhook.kube.informer``) keep Deployments, ReplicaSets and Services cached; their
events put the key ``(namespace, name)`` of the user's Deployment on a work queue (duplicates
coalesce); workers take keys, read the cached objects into a ``World``, call the pure planner and
carry the plan out (``execute``). A plan's ``requeue_after`` (a timed pause, a scale-down delay)
puts the key back at that time; a failed write puts it back with per-key backoff. Nothing is kept
between reconciles but the caches: a restarted reconciler resumes from the cluster alone.

Which events wake which Deployment:
- a Deployment that is opted in, adopted by a cluster policy, or carries ``canarist.io/status``
  (also when it just lost the label, or was deleted: its last state is kept so the deletion can
  be cleaned up);
- a canary Deployment (label ``canarist.io/canary-of``) wakes the Deployment it belongs to;
- a ReplicaSet wakes the Deployment that owns it, when that one is released by canarist (the
  canary's wakes the Deployment it is the canary of; an adoption wakes the old and new owner);
- a Service wakes the Deployment named in its ``canarist.io/managed-by`` annotation;
- every ``resync`` seconds every released Deployment is reconciled with ``resync`` set, which
  re-applies routing a hand edit may have changed;
- a new policy document (``--policy-configmap``) wakes every Deployment it or the previous one
  covers, a Namespace's new labels every Deployment of that namespace; a release ending (or
  aborting) wakes the releases waiting for a slot of ``maxConcurrentReleases``.

Cluster policies (``LoopOptions.policies`` from ``--policy FILE``, or the ConfigMap followed with
``policy_configmap``) decide, with the Deployment's labels, whether it is managed and its
effective spec; ``webhook.release.policyloop`` is the loop's side of them.

A warning the API server returns on the writes of a reconcile (a field the CRD does not have,
pruned; a deprecated version; an admission webhook's) becomes a ``Warning`` Event ``APIWarning``
on the Deployment.

At start, a Service still marked ``managed-by`` a Deployment that no longer exists (deleted while
no reconciler ran) gets its selector back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from webhook.analysis import Measurer, decode_secret
from webhook.errors import CanaristError, Conflict, KubeError, RouterError, Unavailable
from webhook.kube import warnings as api_warnings
from webhook.kube.client import KubeClient
from webhook.kube.events import EventRecorder
from webhook.kube.informer import Informer, key_of, owner_uids, start_all, stop_all
from webhook.kube.policyfeed import ConfigMapRef
from webhook.kube.protocol import JSON, ObjectRef
from webhook.kube.workqueue import WorkQueue
from webhook.policy import EMPTY, PolicySet
from webhook.release import handover, measuring
from webhook.release.bookkeeping import Books
from webhook.release.execute import EventSink, Executor, service_patch
from webhook.release.metrics import Metrics
from webhook.release.model import ServiceView, World, observe, selecting
from webhook.release.names import CANARY_OF_LABEL, CANARY_SUFFIX, MANAGED_BY_ANNOTATION
from webhook.release.planner import plan
from webhook.release.policyloop import PolicyWatch
from webhook.release.relevance import (
    active,
    controller_of,
    counts,
    label_pairs,
    managed_by,
    orphaned_in,
    same_but_status,
    selector_pairs,
)
from webhook.release.routing import RouterCache
from webhook.release.services import restore_patch
from webhook.spec.names import CANARY_SERVICE, STABLE_SERVICE

log = logging.getLogger("canarist.release")
CONFLICT_BASE = 0.005  # seconds: the first retry after a write conflict (client-go's base)
CONFLICT_CAP = 1.0  # seconds: the longest wait after repeated conflicts
Key = tuple[str, str]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoopOptions:
    namespace: str = ""  # "" watches every namespace
    workers: int = 4
    resync: float = 300.0
    proxy_admin_url: str | None = None  # what the ``builtin`` analysis provider reads
    # promotion hands the canary's ReplicaSet over (False: the Deployment always rolls out)
    handover: bool = True
    policies: PolicySet = EMPTY  # cluster policies from a file (--policy)
    policy_configmap: ConfigMapRef | None = None  # or followed in a ConfigMap


def _meta(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        options: LoopOptions | None = None,
        *,
        events: EventSink | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.options = options or LoopOptions()
        ns = self.options.namespace
        self.deployments = Informer(client, "apps/v1", "Deployment", namespace=ns)
        self.deployments.add_index("selects", label_pairs)
        self.replica_sets = Informer(client, "apps/v1", "ReplicaSet", namespace=ns)
        self.replica_sets.add_index("owner", owner_uids)
        self.replica_sets.add_index("orphan", orphaned_in)
        self.services = Informer(client, "v1", "Service", namespace=ns)
        self.services.add_index("selects", selector_pairs)
        self.services.add_index("managed", managed_by)
        self.queue: WorkQueue[Key] = WorkQueue(base_delay=0.1, max_delay=30.0)
        self._recorder = EventRecorder(client) if events is None else None
        sink: EventSink = events if events is not None else self._recorder  # type: ignore[assignment]
        self.executor = Executor(client, sink)
        self.events = sink
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.tombstones: dict[Key, JSON] = {}
        # resourceVersions a Deployment had before canarist's last writes to it: while the cache
        # still holds one of them it has not seen the last write, and a plan from it is stale
        self.written: dict[Key, tuple[str, ...]] = {}
        self.resyncs: set[Key] = set()
        self.reconciles = 0
        self.measurer: Measurer | None = None
        self.policy = PolicyWatch(
            client, self.options.policies, self.options.policy_configmap,
            deployments=self.deployments, wake=self.queue.add, events=sink, metrics=self.metrics,
        )

    # --- events -> keys -------------------------------------------------------------------------

    def _on_deployment(self, etype: str, obj: JSON, old: JSON | None) -> None:
        meta = _meta(obj)
        owner = (meta.get("labels") or {}).get(CANARY_OF_LABEL)
        ns = str(meta.get("namespace") or "")
        if owner:
            self.queue.add((ns, str(owner)))
            return
        self.policy.on_deployment(etype, obj, old)
        if not (self.policy.governed(obj) or self.policy.governed(old)):
            return
        key = key_of(obj)
        if etype == "DELETED":
            self.tombstones[key] = obj
        elif old is not None and same_but_status(obj, old) and not active(obj):
            return  # the Deployment controller's bookkeeping on a Deployment at rest
        self.queue.add(key)

    def _on_replica_set(self, etype: str, obj: JSON, old: JSON | None) -> None:
        if old is not None and counts(obj) == counts(old):
            return
        ns = str(_meta(obj).get("namespace") or "")
        for controller in {controller_of(obj), controller_of(old) if old else ""} - {""}:
            owner = self.deployments.get(ns, controller)
            release = (_meta(owner).get("labels") or {}).get(CANARY_OF_LABEL) if owner else None
            name = str(release) if release else controller  # the canary's: wake its release
            if active(self.deployments.get(ns, name)):
                self.queue.add((ns, name))

    def _on_service(self, etype: str, obj: JSON, old: JSON | None) -> None:
        ns = str(_meta(obj).get("namespace") or "")
        for version in (obj, old):
            owner = ((_meta(version).get("annotations") or {}) if version else {}).get(
                MANAGED_BY_ANNOTATION
            )
            if owner:
                self.queue.add((ns, str(owner)))

    # --- running --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
        """Follow the cluster until ``stop`` is set; ``ready`` is set once the caches are synced
        and the workers run."""
        self.deployments.add_handler(self._on_deployment)
        self.replica_sets.add_handler(self._on_replica_set)
        self.services.add_handler(self._on_service)
        informers = [self.deployments, self.replica_sets, self.services]
        informers += self.policy.informers
        tasks: list[asyncio.Task[None]] = []
        try:
            if not await start_all(informers, within=None):
                return
            self.policy.synced()
            await self._restore_orphans()
            tasks = [
                asyncio.create_task(self._worker(), name=f"reconcile-{i}")
                for i in range(max(1, self.options.workers))
            ]
            tasks.append(asyncio.create_task(self._resync(), name="resync"))
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            self.queue.shutdown()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await stop_all(informers)
            await self.policy.stop()
            if self._recorder is not None:
                await self._recorder.aclose()
            if self.measurer is not None:
                await self.measurer.close()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.options.resync)
            for obj in self.deployments.list():
                if self.policy.governed(obj):
                    key = key_of(obj)
                    self.resyncs.add(key)
                    self.queue.add(key)

    async def _worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            started = time.perf_counter()
            result = "ok"
            try:
                requeue = await self.reconcile(key)
            except Conflict as exc:
                # the cache was a step behind a write (the Deployment controller's status, while
                # pods start): cheap to retry once the watch catches up, so the backoff stays
                # short (client-go's base, capped at a second), or a burst of them would push a
                # retry tens of seconds past the last change
                result = "requeued"
                delay = self.queue.add_rate_limited(key, base=CONFLICT_BASE, cap=CONFLICT_CAP)
                log.info("%s/%s: %s; again in %.2fs", *key, exc, delay)
            except Unavailable as exc:
                result = "requeued"
                delay = self.queue.add_rate_limited(key)
                log.info("%s/%s: %s; again in %.2fs", *key, exc, delay)
            except (RouterError, KubeError) as exc:
                result = "error"
                delay = self.queue.add_rate_limited(key)
                log.warning("%s/%s: %s; again in %.2fs", *key, exc, delay)
                self._report(key, str(exc))
            except CanaristError as exc:
                result = "error"
                self.queue.add_rate_limited(key)
                log.warning("%s/%s: %s", *key, exc)
            except Exception:
                result = "error"
                self.queue.add_rate_limited(key)
                log.exception("%s/%s: reconcile failed", *key)
            else:
                self.queue.forget(key)
                if requeue is not None:
                    self.queue.add_after(key, requeue)
            finally:
                self.queue.done(key)
                self.metrics.duration.observe(time.perf_counter() - started)
                self.metrics.results[result] += 1
                self.metrics.writes = self.executor.writes
                self.metrics.queue_depth = len(self.queue)

    def _report(self, key: Key, message: str) -> None:
        obj = self.deployments.get(*key)
        if obj is not None:
            self.events.record(obj, "Warning", "ReconcileFailed", message)

    # --- one reconcile ----------------------------------------------------------------------------

    def world(self, key: Key) -> World | None:
        ns, name = key
        obj = self.deployments.get(ns, name)
        if obj is None:
            tomb = self.tombstones.pop(key, None)
            if tomb is None:
                return None
            obj = dict(tomb, metadata=dict(_meta(tomb), deletionTimestamp=self.clock().isoformat()))
        elif (_meta(obj).get("labels") or {}).get(CANARY_OF_LABEL):
            return None
        uid = str(_meta(obj).get("uid") or "")
        resync = key in self.resyncs
        self.resyncs.discard(key)
        canary = self.deployments.get(ns, name + CANARY_SUFFIX)
        canary_uid = str(_meta(canary).get("uid") or "") if canary else ""
        rss = self.replica_sets.by_index("owner", uid) if uid else []
        if canary_uid:
            rss = rss + self.replica_sets.by_index("owner", canary_uid)
        world = observe(
            obj,
            canary=canary,
            replica_sets=rss + self.replica_sets.by_index("orphan", ns),
            services=self.services_for(obj),
            resync=resync,
            handover=self.options.handover,
            policy=self.policy.policy_of(obj),
        )
        if handover.candidates(world):  # who else could adopt the canary's ReplicaSet
            world = replace(world, selecting=selecting(world, self._selecting(world, ns)))
        return world

    def _selecting(self, world: World, ns: str) -> list[JSON]:
        """The namespace's Deployments that may select the canary's ReplicaSets (an index
        lookup by their labels; ``model.selecting`` decides)."""
        found: dict[str, JSON] = {}
        keys = {f"{ns}/*"}
        for rs in world.canary_replica_sets:
            keys.update(f"{ns}/{k}={v}" for k, v in rs.labels.items())
        for key in keys:
            for d in self.deployments.by_index("selects", key):
                found[str(_meta(d).get("name"))] = d
        return list(found.values())

    def services_for(self, deployment: JSON) -> list[JSON]:
        """The Services that can matter to one Deployment, from indexes (never a scan of the
        namespace): those whose selector shares a label with its pods, those it manages, the
        ones its annotations name, and their ``-canary`` companions."""
        meta = _meta(deployment)
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        template = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
        found: dict[str, JSON] = {}
        for key, value in (template.get("labels") or {}).items():
            for svc in self.services.by_index("selects", f"{ns}/{key}={value}"):
                found[_meta(svc)["name"]] = svc
        for svc in self.services.by_index("managed", f"{ns}/{name}"):
            found[_meta(svc)["name"]] = svc
        annotations = meta.get("annotations") or {}
        names = [annotations.get(STABLE_SERVICE), annotations.get(CANARY_SERVICE)]
        names += [f"{n}-canary" for n in list(found)]
        for extra in names:
            named = self.services.get(ns, extra) if extra and extra not in found else None
            if extra and named is not None:
                found[extra] = named
        return list(found.values())

    async def reconcile(self, key: Key) -> float | None:
        """Plan and carry out one reconcile of ``key``; returns when to look again."""
        world = self.world(key)
        if world is None:
            return None
        rv = world.deployment.resource_version
        if rv in self.written.get(key, ()) and not world.deployment.deleting:
            return None  # our last write has not reached the cache; its event will wake us
        self.written.pop(key, None)
        self.reconciles += 1
        routers = RouterCache(self.client, world)
        books = Books.of(world.status)
        if world.status.in_release and books.routed_hashes and world.spec is not None:
            world = _with_verified(world, await routers.verify(world.status.weight))
        now = self.clock()
        if measuring.runs(world):
            world = await measuring.measure(world, now, self._measurer())
        world = self.policy.slots(key, world)  # no await from counting slots to booking one
        result = plan(world, now)
        self.policy.book(key, world, result.status)
        with api_warnings.collect() as said:
            try:
                ran = await self.executor.run(result, world.deployment, routers.get)
            finally:
                for text in said:  # e.g. a field the CRD does not have, pruned by the server
                    self.events.record(world.deployment.raw, "Warning", "APIWarning", text)
        if ran.wrote_deployment:
            self.written[key] = ran.superseded or (rv,)
        status = result.status if result.status is not None else world.status
        if world.deployment.deleting or not world.managed:
            self.metrics.set_release(*key, None)
        else:
            self.metrics.set_release(*key, status)
        return result.requeue_after

    def _measurer(self) -> Measurer:
        if self.measurer is None:
            self.measurer = Measurer(
                proxy_admin_url=self.options.proxy_admin_url, secrets=self._read_secret
            )
        return self.measurer

    async def _read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return decode_secret(await self.client.get(ObjectRef("v1", "Secret", namespace, name)))

    async def _restore_orphans(self) -> None:
        for svc in self.services.list():
            meta = _meta(svc)
            owner = (meta.get("annotations") or {}).get(MANAGED_BY_ANNOTATION)
            ns = str(meta.get("namespace") or "")
            if not owner or self.deployments.get(ns, str(owner)) is not None:
                continue
            if any(True for _ in meta.get("ownerReferences") or ()):
                continue  # canarist's own: the garbage collector removes it
            view = ServiceView.of(svc)
            ref = ObjectRef("v1", "Service", ns, view.name)
            with contextlib.suppress(KubeError):
                await self.client.patch(ref, service_patch(restore_patch(view)))
                log.info(
                    "Service %s/%s: selector restored (Deployment %s is gone)", ns, view.name, owner
                )


def _with_verified(world: World, verified: bool | None) -> World:
    return replace(world, verified=verified)
