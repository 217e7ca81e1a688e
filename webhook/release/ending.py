"""How a release ends: the Deployment's rollout after promotion, an abort, and the rest state.

- **Promoting** (the user's Deployment unpaused): all traffic stays on the canary until the
  Deployment's own rollout completes (kubectl's rule); then the stable Service switches to the new
  hash, the weight returns to 0 (now onto the new pods behind the stable Service), header and
  mirror routes go, and the canary Deployment is deleted after ``scale-down-delay``.
  Router ``none``: the Deployment replaces its stable pods itself (it was unpaused at the
  count canarist left it at), then the canary's pods move over to it, a few at a time within the
  Deployment's ``maxSurge``/``maxUnavailable``, before the finish.
- **Aborted**: the stable pods get their full count back first; weight 0 at once (no faster than
  the stable pods can take it back), managed routes removed, hash-pinned selections and the canary
  Service back on the stable hash, the canary scaled to 0 after ``abort-scale-down-delay`` (router
  ``none``: a few pods at a time as the stable pods come back, since its pods *are* the weight);
  the user's Deployment stays paused on the old pods.
- **At rest** (the template is the stable one): the stable pods' full count back, weight 0 and no
  managed routes, delete a leftover canary after its delay, unpause a Deployment that a release
  held (fast rollback).
"""

from __future__ import annotations

from webhook.release import scaling
from webhook.release.actions import apply_action, end_analysis
from webhook.release.basic import basic, stable_side
from webhook.release.canary import Canary, canary_ops
from webhook.release.draft import Ctx, Draft, Work, floor_for, route
from webhook.release.handover import switch_stable_service
from webhook.release.model import CanaryView
from webhook.release.names import HASH_LABEL
from webhook.release.ops import DeleteCanary, OrphanCanary, ScaleCanary
from webhook.release.progress import (
    canary_pin,
    need,
    planned_weight,
    rollout_message,
    routes_for,
    stable_pin,
)
from webhook.release.replicas import ask_stable, give_back
from webhook.release.scaling import Side
from webhook.release.services import (
    Pin,
    canary_service_ops,
    find_stable,
    has_canary_service,
    pin_patch,
    pins_services,
    subset_level_only,
)
from webhook.release.stepping import ActiveRoutes
from webhook.release.teardown import restore_services
from webhook.release.timefmt import after, parse, seconds_until
from webhook.spec import Phase


def promoting(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> None:
    d = ctx.d
    if not ctx.routed:
        promoting_basic(ctx, work, draft, canary)
        return
    if not d.rollout_complete:
        weight = planned_weight(ctx, work, canary, ctx.n)
        routes = routes_for(ctx, work, canary, ctx.n)
        route(
            ctx, work, draft, weight=weight, hashes=(d.hash, work.status.stable_hash), routes=routes
        )
        canary_ops(ctx, work, draft, canary, need(ctx, ctx.n, d.replicas))
        rollout_message(ctx, work, draft)
        return
    finish(ctx, work, draft)


def promoting_basic(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> None:
    """Router ``none``: once the Deployment has replaced its pods, the canary's pods (the same
    revision) move over to it, the Deployment growing first; then the finish."""
    d = ctx.d
    work.set(weight=100)
    if not d.rollout_complete:
        rollout_message(ctx, work, draft)
        return
    view = canary.view if canary.current else None
    own = Side(view.replicas, view.available) if view else Side(0, 0)
    count, stable = basic(ctx, work, 0, Side(d.replicas, d.available_replicas), own)
    if view is not None and count != view.replicas:
        draft.add(ScaleCanary(view.name, count))  # shrinks: before the Deployment grows
    if count == 0 and stable == d.replicas:
        finish(ctx, work, draft)
        return
    ask_stable(ctx, work, stable)
    rollout_message(ctx, work, draft)


def finish(ctx: Ctx, work: Work, draft: Draft) -> None:
    """The Deployment runs the new revision everywhere: make it the stable one (the stable
    Service first, then the routers: the stable side selects the new pods before it gets the
    traffic back)."""
    d, spec = ctx.d, ctx.spec
    new = Pin(HASH_LABEL, d.hash)
    switch_stable_service(ctx, draft)
    choice = find_stable(ctx.world, spec.stable_service, spec.canary_service)
    if choice.service is not None and has_canary_service(spec):
        name = spec.canary_service_for(choice.service.name)
        draft.add(*canary_service_ops(ctx.world, choice.service, name, new))
    route(ctx, work, draft, weight=0, hashes=(d.hash, d.hash), routes=ActiveRoutes())
    work.set(
        phase=Phase.HEALTHY,
        message=f"promoted {d.hash}",
        stable_hash=d.hash,
        canary_hash=d.hash,
        step=ctx.n,
        weight=0,
    )
    work.book(
        release="",
        promote_full=False,
        user_paused=False,
        replicas_held=False,
        scale_down_at=None,
        handover="",
    )
    draft.event("Promoted", f"{d.hash} is the stable revision")
    end_analysis(ctx, work)
    view = ctx.world.canary
    if view is not None and view.owned and not view.deleting:  # after scale-down-delay (0: now)
        remove_canary(ctx, work, draft, view.name, 0, rollback=False)


def handing_over(ctx: Ctx, work: Work, draft: Draft) -> bool:
    """After ``handover.start``: the canary orphaned (again, if that write was lost), its
    ReplicaSet adopted by the user's Deployment, the Deployment unpaused (it has nothing left to
    roll out but the old pods going), then the finish. ``False`` when the hand-over is over
    without a finish — a new template arrived (it is released over the handed-over revision) —
    and the plan goes on as for any other state. All traffic stays on the canary Service (the
    same pods) until the finish."""
    d, name = ctx.d, work.books.handover
    if d.hash != work.status.stable_hash:
        work.book(handover="")
        return False
    apply_action(ctx, work, draft, in_release=True)
    work.set(phase=Phase.PROMOTING)
    view = ctx.world.canary
    if view is not None and view.owned and not view.deleting and view.hash == d.hash:
        draft.add(OrphanCanary(view.name, view.uid))
        work.set(message=f"promoting: handing ReplicaSet {name} over to {d.name}")
        return True
    rs = next((r for r in ctx.world.replica_sets if r.name == name), None) or next(
        (r for r in ctx.world.canary_replica_sets if r.name == name), None
    )
    canary_uid = view.uid if view is not None else None
    adopted = rs is not None and rs.controller == d.uid
    on_the_way = rs is not None and not rs.deleting and rs.controller in (None, canary_uid)
    if not adopted and on_the_way:
        work.set(message=f"promoting: handing ReplicaSet {name} over to {d.name}")
        return True
    if d.paused:
        work.unpause = True
        if not adopted:
            why = "is gone" if rs is None else "was deleted or taken by another controller"
            draft.event(
                "HandOverFailed",
                f"ReplicaSet {name} {why}; {d.name} rolls out {d.hash} itself",
                warning=True,
            )
    if not work.unpause and d.rollout_complete:
        finish(ctx, work, draft)
        return True
    rollout_message(ctx, work, draft)
    if adopted and not ctx.d.deadline_exceeded:
        work.set(message=f"promoting: {d.name} adopted ReplicaSet {name}; its old pods go")
    return True


def aborted(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> None:
    d, spec, status = ctx.d, ctx.spec, work.status
    stable = status.stable_hash
    view = canary.view if canary.view is not None and canary.view.owned else None
    if not ctx.routed:
        weight = 0  # router none: the weight goes with the canary pods, a few at a time
        scale_back(ctx, work, draft, view)
    else:
        give_back(ctx, work)  # the stable pods first, so the traffic can come back
        weight = scaling.next_weight(
            target=0,
            applied=status.weight,
            ready=True,
            canary_available=canary.serving,
            floor=floor_for(ctx, stable, work.total),
        )
    hashes = (stable, stable) if weight == 0 else (d.hash, stable)
    route(ctx, work, draft, weight=weight, hashes=hashes, routes=ActiveRoutes())
    work.set(weight=weight)
    back = stable_pin(ctx, stable)
    choice = find_stable(ctx.world, spec.stable_service, spec.canary_service)
    if choice.service is not None:
        if pins_services(spec):
            patch = pin_patch(choice.service, back, d.name)
            if patch:
                draft.add(patch)
        if has_canary_service(spec):
            pin = back if weight == 0 else canary_pin(ctx)
            name = spec.canary_service_for(choice.service.name)
            draft.add(*canary_service_ops(ctx.world, choice.service, name, pin))
    if view is not None and ctx.routed:
        count = view.replicas
        aborted_at = parse(status.aborted_at) or ctx.now
        deadline = aborted_at.timestamp() + spec.abort_scale_down_delay
        if weight == 0 and ctx.now.timestamp() >= deadline:
            count = 0
        elif count:
            draft.wake(deadline - ctx.now.timestamp())
        if count != view.replicas:
            draft.add(ScaleCanary(view.name, count))
    i = min(status.step, ctx.n)
    reason = work.books.abort_reason or "aborted"
    work.set(
        phase=Phase.DEGRADED,
        message=(
            f"{reason} at step {min(i + 1, ctx.n)}/{ctx.n}; to recover, retry "
            f"(canarist retry {d.name}) or revert the template to {stable}"
        ),
    )


def scale_back(ctx: Ctx, work: Work, draft: Draft, view: CanaryView | None) -> int:
    """Router ``none``: the stable pods back to the full count and the canary's away, a few at a
    time within the Deployment's ``maxSurge``/``maxUnavailable``, the stable side first. Returns
    the canary pods asked for."""
    if view is None or view.replicas == 0:
        give_back(ctx, work)
        return 0
    own = Side(view.replicas, view.available)
    count, stable = basic(ctx, work, 0, stable_side(ctx, work), own)
    ask_stable(ctx, work, stable)
    if count == 0:
        # the canary's last pods go: nothing is held from now on, in this plan already (the
        # next one finds no canary pod and gives the full count back, as ``give_back``)
        work.book(replicas_held=False)
    if count != view.replicas:
        draft.add(ScaleCanary(view.name, count))  # shrinks: before the stable side grows
    return count


def at_rest(ctx: Ctx, work: Work, draft: Draft) -> None:
    d, status = ctx.d, work.status
    stable = d.hash
    release = work.books.release
    rollback = bool(release and release != stable) or bool(
        status.canary_hash and status.canary_hash != stable
    )
    view = ctx.world.canary if ctx.world.canary and ctx.world.canary.owned else None
    left = 0
    if ctx.routed:
        give_back(ctx, work)
    else:
        left = scale_back(ctx, work, draft, view)
    serving = view.available if view else 0
    weight = scaling.next_weight(
        target=0,
        applied=status.weight,
        ready=True,
        canary_available=serving,
        floor=floor_for(ctx, stable, work.total),
    )
    if not ctx.routed:
        weight = 0
    routed = work.books.routed_hashes
    hashes = (stable, stable) if weight == 0 or routed is None else (routed[0], stable)
    route(ctx, work, draft, weight=weight, hashes=hashes, routes=ActiveRoutes())
    work.set(weight=weight)
    rest_services(ctx, draft, stable, weight)
    if view is not None and left == 0:
        remove_canary(ctx, work, draft, view.name, weight, rollback)
    elif view is None:
        work.book(scale_down_at=None)
    if d.paused and (rollback or status.phase == Phase.PROMOTING):
        work.unpause = True
    message = status.message if status.phase == Phase.HEALTHY else ""
    if rollback:
        end_analysis(ctx, work)
        message = f"rolled back to {stable}"
        dropped = release or status.canary_hash
        draft.event("RolledBack", f"the template is back on {stable}: {dropped} dropped")
    work.set(
        phase=Phase.HEALTHY,
        message=message,
        stable_hash=stable,
        canary_hash=stable,
        step=ctx.n,
        aborted_at=None,
    )
    work.book(
        release="", promote_full=False, user_paused=False, abort_reason="", replicas_held=False
    )


def rest_services(ctx: Ctx, draft: Draft, stable: str, weight: int) -> None:
    """Services canarist manages keep selecting the stable pods; nothing new is pinned."""
    spec, d = ctx.spec, ctx.d
    if subset_level_only(spec):
        restore_services(ctx.world, draft, delete_owned=True)
        return
    choice = find_stable(ctx.world, spec.stable_service, spec.canary_service)
    if choice.service is None:
        return
    pin = stable_pin(ctx, stable)
    if ctx.routed and choice.service.managed_for(d.name):
        patch = pin_patch(choice.service, pin, d.name)
        if patch:
            draft.add(patch)
    name = spec.canary_service_for(choice.service.name)
    if weight == 0 and ctx.world.service(name) is not None:
        draft.add(*canary_service_ops(ctx.world, choice.service, name, pin))


def remove_canary(
    ctx: Ctx, work: Work, draft: Draft, name: str, weight: int, rollback: bool
) -> None:
    """Delete the canary after its delay — never one already being deleted: a second delete
    with another propagation policy would take the ``orphan`` finalizer of a hand-over off."""
    spec = ctx.spec
    view = ctx.world.canary
    if view is not None and view.name == name and view.deleting:
        return
    deadline = parse(work.books.scale_down_at)
    if deadline is None:
        delay = spec.abort_scale_down_delay if rollback else spec.scale_down_delay
        work.book(scale_down_at=after(ctx.now, delay))
        deadline = parse(work.books.scale_down_at)
        assert deadline is not None
    if weight == 0 and ctx.now >= deadline:
        draft.add(DeleteCanary(name))
        draft.event("CanaryDeleted", f"canary Deployment {name} deleted")
        work.book(scale_down_at=None)
    else:
        draft.wake(seconds_until(deadline, ctx.now))
