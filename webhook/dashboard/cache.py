"""The one cache every page and stream reads: four informers and a change feed.

``ReleaseCache`` follows, across every namespace (or one, with ``namespace``):

- Deployments (managed ones and canaries kept; others reduced to a stub by ``compact``),
- ReplicaSets (each reduced to its revision, counts and images),
- Pods carrying ``rollouts-pod-template-hash`` (canarist's; the pods of a revision adopted
  before its first release are counted by their ReplicaSet only),
- Events about Deployments (``involvedObject.kind=Deployment``).

It costs four watches whatever the number of browsers. Every change is mapped to the release
it belongs to (a Pod to its ReplicaSet, to its Deployment, and a canary to the Deployment it is
the canary of) and collected; ``flush`` turns what was collected into one numbered batch
(``seq``) and wakes the streams, which send only the releases that changed. The last
``RING`` batches are kept so a stream that reconnects with ``Last-Event-ID`` gets what it
missed, or the whole list when it missed too much.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from webhook.dashboard import compact
from webhook.kube.client import KubeClient
from webhook.kube.informer import Informer, key_of, start_all, stop_all
from webhook.kube.protocol import JSON
from webhook.spec.names import CANARY_OF_LABEL, HASH_LABEL

Key = tuple[str, str]
RING = 512  # batches kept for streams that reconnect
FLUSH = 0.25  # seconds changes are collected before streams hear of them


def uid_of(obj: JSON) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [uid] if uid else []


def owners_of(obj: JSON) -> list[str]:
    return list((obj.get("metadata") or {}).get("owners") or ())


def involved(obj: JSON) -> list[str]:
    return [str(obj.get("object", ""))]


@dataclass(frozen=True)
class Batch:
    seq: int
    keys: frozenset[Key]


class ReleaseCache:
    def __init__(self, client: KubeClient, *, namespace: str = "") -> None:
        self.client = client
        self.deployments = Informer(client, "apps/v1", "Deployment", namespace=namespace,
                                    transform=compact.deployment)
        self.deployments.add_index("uid", uid_of)
        # every ReplicaSet (small once compacted): the stable revision of a Deployment adopted
        # before its first release carries no stamp
        self.replica_sets = Informer(client, "apps/v1", "ReplicaSet", namespace=namespace,
                                     transform=compact.replica_set)
        self.replica_sets.add_index("uid", uid_of)
        self.replica_sets.add_index("owner", owners_of)
        self.pods = Informer(client, "v1", "Pod", namespace=namespace, label_selector=HASH_LABEL,
                             transform=compact.pod)
        self.pods.add_index("owner", owners_of)
        self.events = Informer(client, "v1", "Event", namespace=namespace,
                               field_selector="involvedObject.kind=Deployment",
                               transform=compact.event)
        self.events.add_index("object", involved)
        self.seq = 0
        self.closing = False  # set by wake_all: waits return at once
        self.ring: deque[Batch] = deque(maxlen=RING)
        self._pending: set[Key] = set()
        self._changed = asyncio.Condition()
        self._flusher: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()

    @property
    def informers(self) -> list[Informer]:
        return [self.deployments, self.replica_sets, self.pods, self.events]

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self.informers)

    def problem(self) -> str:
        """Why the cache is not (yet) in sync with the API server, or ""."""
        for informer in self.informers:
            if not informer.synced and informer.last_error is not None:
                return f"{informer.kind}: {informer.last_error}"
        return ""

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, within: float | None = None) -> bool:
        self.deployments.add_handler(self._on_deployment)
        self.replica_sets.add_handler(self._on_replica_set)
        self.pods.add_handler(self._on_pod)
        self.events.add_handler(self._on_event)
        self._flusher = asyncio.create_task(self._flush_loop(), name="dashboard-flush")
        return await start_all(self.informers, within)

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await stop_all(self.informers)

    # --- reading ----------------------------------------------------------------------------

    def releases(self) -> list[JSON]:
        """Every Deployment canarist manages (canaries and stubs left out)."""
        return [d for d in self.deployments.list() if is_release(d)]

    def release(self, ns: str, name: str) -> JSON | None:
        obj = self.deployments.get(ns, name)
        return obj if obj is not None and is_release(obj) else None

    def canary_of(self, release: JSON) -> JSON | None:
        ns, name = key_of(release)
        canary = self.deployments.get(ns, f"{name}-canary")
        if canary is None or (canary["metadata"].get("labels") or {}).get(CANARY_OF_LABEL) != name:
            return None
        return canary

    def replica_sets_of(self, *owners: JSON | None) -> list[JSON]:
        out: list[JSON] = []
        for owner in owners:
            for uid in uid_of(owner) if owner is not None else ():
                out.extend(self.replica_sets.by_index("owner", uid))
        return out

    def pods_of(self, replica_sets: Iterable[JSON]) -> dict[str, list[JSON]]:
        """ReplicaSet uid -> its pods."""
        return {uid: self.pods.by_index("owner", uid) for rs in replica_sets for uid in uid_of(rs)}

    def events_of(self, ns: str, *names: str) -> list[JSON]:
        return [e for name in names for e in self.events.by_index("object", f"{ns}/{name}")]

    # --- change feed -----------------------------------------------------------------------

    def since(self, seq: int) -> frozenset[Key] | None:
        """The releases changed after batch ``seq``; ``None`` when the ring no longer says."""
        if seq == self.seq:
            return frozenset()
        if seq > self.seq or not self.ring or self.ring[0].seq > seq + 1:
            return None
        keys: set[Key] = set()
        for batch in self.ring:
            if batch.seq > seq:
                keys |= batch.keys
        return frozenset(keys)

    async def wait(self, seq: int, within: float) -> int:
        """Wait until a batch newer than ``seq`` exists (at most ``within`` seconds, or until
        ``wake_all``); the newest seq."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.seq > seq or self.closing), within)
            return self.seq

    async def wake_all(self) -> None:
        """At shutdown: every waiting stream returns at once (and sees the app closing)."""
        self.closing = True
        async with self._changed:
            self._changed.notify_all()

    async def flush(self) -> None:
        if not self._pending:
            return
        keys, self._pending = frozenset(self._pending), set()
        self.seq += 1
        self.ring.append(Batch(self.seq, keys))
        async with self._changed:
            self._changed.notify_all()

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(FLUSH)
            self._dirty.clear()
            await self.flush()

    def _touch(self, key: Key | None) -> None:
        if key is not None and key[1]:
            self._pending.add(key)
            self._dirty.set()

    def _release_key(self, deployment: JSON | None) -> Key | None:
        if deployment is None:
            return None
        ns, name = key_of(deployment)
        owner = (deployment["metadata"].get("labels") or {}).get(CANARY_OF_LABEL)
        if owner:
            return (ns, str(owner))
        return (ns, name) if is_release(deployment) else None

    def _owner_release(self, obj: JSON) -> Key | None:
        for uid in owners_of(obj):
            for d in self.deployments.by_index("uid", uid):
                return self._release_key(d)
        return None

    def _on_deployment(self, etype: str, obj: JSON, old: JSON | None) -> None:
        key = self._release_key(obj) or self._release_key(old)
        if key is None and etype == "DELETED":
            return
        self._touch(key)
        if old is not None and is_release(old) and not is_release(obj):
            self._touch(key_of(old))  # opted out: the page drops it

    def _on_replica_set(self, etype: str, obj: JSON, old: JSON | None) -> None:
        self._touch(self._owner_release(obj))

    def _on_pod(self, etype: str, obj: JSON, old: JSON | None) -> None:
        for uid in owners_of(obj):
            for rs in self.replica_sets.by_index("uid", uid):
                self._touch(self._owner_release(rs))

    def _on_event(self, etype: str, obj: JSON, old: JSON | None) -> None:
        ns, _, name = str(obj.get("object", "")).partition("/")
        if self.release(ns, name) is not None:
            self._touch((ns, name))
        else:
            self._touch(self._release_key(self.deployments.get(ns, name)))


def is_release(obj: JSON) -> bool:
    """A Deployment canarist releases (not a canary, not a stub of an unmanaged one)."""
    meta = obj.get("metadata") or {}
    if "annotations" not in meta:
        return False  # a stub: not managed
    labels = meta.get("labels") or {}
    return not labels.get(CANARY_OF_LABEL) and compact.is_managed(labels, meta["annotations"])
