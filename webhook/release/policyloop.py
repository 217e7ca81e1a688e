"""The reconcile loop's side of cluster policies: which policy covers a Deployment, what wakes
whom when policies or Namespaces change, and the slots of ``maxConcurrentReleases``.

``PolicyWatch`` holds the ``PolicyStore`` in force (from ``--policy FILE``, or followed in a
ConfigMap by ``webhook.kube.policyfeed``) and:

- ``governed(obj)``: the loop acts on a Deployment that is released (label, status) or that a
  policy adopts;
- a new document wakes every Deployment it or the previous one covers; a refused one is a
  Warning Event ``PolicyRefused`` on the ConfigMap (the one in force stays) and the metric
  ``canarist_policy_document_valid 0``; an applied one a Normal Event ``PolicyApplied``;
- a Namespace's new labels wake its Deployments (policies may select namespaces by label);
- ``slots(key, world)`` counts the releases holding a slot of the Deployment's policy when its
  release would start, and ``book(key, world, status)`` reserves the slot a plan takes before
  the cache shows it (no ``await`` between the two, so two workers cannot take the last slot);
  a release ending wakes the waiting ones (``on_deployment``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from webhook.kube.client import KubeClient
from webhook.kube.informer import Informer, key_of
from webhook.kube.policyfeed import ConfigMapRef, PolicyFeed
from webhook.kube.protocol import JSON
from webhook.policy import ClusterPolicy, Loaded, PolicySet, PolicyStore, manage
from webhook.release import queueing
from webhook.release.bookkeeping import Books
from webhook.release.execute import EventSink
from webhook.release.metrics import Metrics
from webhook.release.model import World
from webhook.release.relevance import meta_of, released
from webhook.spec import ReleaseStatus

Key = tuple[str, str]
RESERVATION = 60.0  # seconds a started release counts as running before the cache shows it


class PolicyWatch:
    def __init__(
        self,
        client: KubeClient,
        policies: PolicySet,
        configmap: ConfigMapRef | None,
        *,
        deployments: Informer,
        wake: Callable[[Key], None],
        events: EventSink,
        metrics: Metrics,
    ) -> None:
        self.store = PolicyStore(policies, "--policy")
        self.store.on_change(self._on_policies)
        self.store.on_namespace(self._on_namespace)
        self.deployments = deployments
        self.wake = wake
        self.events = events
        self.metrics = metrics
        metrics.policies = len(policies)
        self.feed = (
            PolicyFeed(client, self.store, configmap, on_loaded=self._loaded)
            if configmap is not None or policies.needs_namespace_labels
            else None
        )
        # releases started here that the cache may not show yet (policy -> key -> when)
        self.reserved: dict[str, dict[Key, float]] = {}
        self.waiting: set[Key] = set()  # releases waiting for a slot

    @property
    def informers(self) -> list[Informer]:
        return self.feed.informers if self.feed is not None else []

    def synced(self) -> None:
        if self.feed is not None:
            self.feed.synced()

    async def stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()

    # --- who -------------------------------------------------------------------------------

    def policy_of(self, obj: JSON | None) -> ClusterPolicy | None:
        if obj is None:
            return None
        meta = meta_of(obj)
        return self.store.match(str(meta.get("namespace") or ""), meta.get("labels") or {})

    def governed(self, obj: JSON | None) -> bool:
        """Canarist acts on this Deployment: released (label, status) or adopted by a policy."""
        if obj is None:
            return False
        if released(obj):
            return True
        policy = self.policy_of(obj)
        meta = meta_of(obj)
        return policy is not None and manage(
            meta.get("labels") or {}, meta.get("annotations") or {}, policy
        ).managed

    # --- what wakes whom ---------------------------------------------------------------------

    def on_deployment(self, etype: str, obj: JSON, old: JSON | None) -> None:
        if self.waiting and queueing.holds_slot(old) and (
            etype == "DELETED" or not queueing.holds_slot(obj)
        ):
            for key in list(self.waiting):  # a slot freed: the waiting releases look again
                self.wake(key)

    def _on_policies(self, old: PolicySet, new: PolicySet) -> None:
        self.metrics.policies = len(new)
        labels = self.store.namespace_labels
        for obj in self.deployments.list():
            ns = str(meta_of(obj).get("namespace") or "")
            if released(obj) or old.in_scope(ns, labels(ns)) or new.in_scope(ns, labels(ns)):
                self.wake(key_of(obj))

    def _on_namespace(self, name: str) -> None:
        if self.store.policies.needs_namespace_labels:
            for obj in self.deployments.list(name):
                self.wake(key_of(obj))

    def _loaded(self, loaded: Loaded, configmap: JSON | None) -> None:
        self.metrics.policy_loads["accepted" if loaded.accepted else "refused"] += 1
        self.metrics.policy_valid = loaded.accepted
        if configmap is None:
            return
        in_force = self.store.policies
        if not loaded.accepted:
            self.events.record(
                configmap, "Warning", "PolicyRefused",
                f"{loaded.error}\nthe policies in force stay ({len(in_force)}, "
                f"{in_force.digest or 'none'})",
            )
        elif loaded.changed:
            self.events.record(configmap, "Normal", "PolicyApplied",
                               f"{len(in_force)} policies in force ({in_force.digest or 'none'})")

    # --- maxConcurrentReleases -------------------------------------------------------------------

    def slots(self, key: Key, world: World) -> World:
        """``world`` with the slots of its policy, when a release would start under a limit."""
        policy = world.policy
        if (
            policy is None
            or policy.rules.max_concurrent_releases is None
            or not world.managed
            or not world.status.stable_hash
            or world.deployment.hash == world.status.stable_hash
            or Books.of(world.status).release
        ):
            self.waiting.discard(key)
            return world
        peers = [o for o in self.deployments.list() if self._same(o, policy)]
        reserved = self.reserved.setdefault(policy.name, {})
        now = time.monotonic()
        for k, at in list(reserved.items()):
            cached = self.deployments.get(*k)
            if cached is None or queueing.holds_slot(cached) or now - at > RESERVATION:
                del reserved[k]
        found = queueing.slots(
            f"{key[0]}/{key[1]}", policy, peers, (f"{ns}/{n}" for ns, n in reserved),
            Books.of(world.status).queued_at,
        )
        return replace(world, slots=found)

    def _same(self, obj: JSON, policy: ClusterPolicy) -> bool:
        found = self.policy_of(obj)
        return found is not None and found.name == policy.name

    def book(self, key: Key, world: World, status: ReleaseStatus | None) -> None:
        """After a plan: the slot it took, or its place in the queue."""
        if world.slots is None or world.policy is None or status is None:
            return
        books = Books.of(status)
        reserved = self.reserved.setdefault(world.policy.name, {})
        if books.release:
            reserved[key] = time.monotonic()
            self.waiting.discard(key)
        elif books.queued_at is not None:
            self.waiting.add(key)
            if reserved.pop(key, None) is not None:  # a start that did not happen: a free slot
                for waiting in list(self.waiting - {key}):
                    self.wake(waiting)
        self.metrics.waiting = len(self.waiting)
