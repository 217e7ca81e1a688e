"""``maxConcurrentReleases``: releases of one policy beyond its limit wait for a slot.

A release holds a slot from its start (``ReleaseStarted``: the status books the canary hash as
``release``) until it ends (promoted, rolled back, or aborted: an aborted release waits for its
user and frees the slot; its ``retry`` restarts it at once). A release that would start while
the slots are taken stays held (``spec.paused``), phase ``Progressing``, with a message naming
the policy, the rule and the releases running; it starts when a slot frees, oldest first
(``queuedAt``). A new revision of a running release keeps its slot, and so does a release whose
canary Deployment exists (a start whose status write was lost: it goes on).

``slots`` (pure) counts, for the reconcile loop, what ``World.slots`` holds; ``wait`` is the
planner's stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from webhook.policy import ClusterPolicy, waiting_message
from webhook.release.bookkeeping import Books
from webhook.release.draft import Ctx, Draft, Work
from webhook.release.model import Slots
from webhook.release.ops import PatchDeployment
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.names import STATUS

RETRY = 15.0  # seconds between two looks at the slots (a slot freeing also wakes the queue)


def _status(obj: Mapping[str, Any]) -> ReleaseStatus:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    text = annotations.get(STATUS) if isinstance(annotations, Mapping) else None
    return ReleaseStatus.from_json(text if isinstance(text, str) else None)


def holds_slot(obj: Mapping[str, Any] | None) -> bool:
    """A release under way: started, not aborted, not over."""
    if obj is None:
        return False
    status = _status(obj)
    return status.in_release and bool(Books.of(status).release) and status.aborted_at is None


def queued_at(obj: Mapping[str, Any]) -> str | None:
    """When a release began to wait, if it waits."""
    status = _status(obj)
    books = Books.of(status)
    return books.queued_at if status.in_release and not books.release else None


def ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def slots(
    me: str,
    policy: ClusterPolicy,
    peers: Iterable[Mapping[str, Any]],
    reserved: Iterable[str] = (),
    since: str | None = None,
) -> Slots:
    """The slots of ``policy`` as seen by release ``me`` (namespace/name), which waits since
    ``since`` (None: not yet). ``peers`` are the Deployments the policy covers; ``reserved``
    the releases this reconciler started whose start its cache may not show yet."""
    running = set(reserved) - {me}
    ahead = 0
    for obj in peers:
        who = ref(obj)
        if who == me:
            continue
        if holds_slot(obj):
            running.add(who)
        elif (waited := queued_at(obj)) is not None and who not in running and (
            since is None or (waited, who) < (since, me)
        ):
            ahead += 1
    limit = policy.rules.max_concurrent_releases or 0
    return Slots(limit, tuple(sorted(running)), ahead)


def wait(ctx: Ctx, work: Work, draft: Draft) -> bool:
    """Hold a release that would start while its policy's slots are taken; True if it waits."""
    slots_ = ctx.world.slots
    policy = ctx.world.policy
    if slots_ is None or policy is None or slots_.free:
        return False
    d = ctx.d
    canary = ctx.world.canary
    if canary is not None and canary.owned and canary.hash == d.hash:
        return False  # started already (its status write was lost): it goes on
    if not d.paused:
        work.unpause = False
        draft.add(PatchDeployment(paused=True))
        draft.event(
            "Held",
            f"the template changed to {d.hash} without being held at admission; pausing it",
            warning=True,
        )
    message = waiting_message(policy, slots_.running)
    if work.books.queued_at is None:
        work.book(queued_at=ctx.stamp)
        draft.event("Queued", message)
    action = ctx.spec.action
    if action is not None:
        draft.event(
            "ActionIgnored", f"{action.value} ignored: the release has not started", warning=True
        )
    work.set(phase=Phase.PROGRESSING, message=message, canary_hash=d.hash, step=0)
    draft.wake(RETRY)
    return True
