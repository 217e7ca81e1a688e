"""How a release ends: the Deployment's rollout after promotion, an abort, and the rest state.

- **Promoting** (the user's Deployment unpaused): all traffic stays on the canary until the
  Deployment's own rollout completes (kubectl's rule); then the stable Service switches to the new
  hash, the weight returns to 0 (now onto the new pods behind the stable Service), header and
  mirror routes go, and the canary Deployment is deleted after ``scale-down-delay``.
- **Aborted**: weight 0 at once (no faster than the stable pods can take it back), managed routes
  removed, hash-pinned selections and the canary Service back on the stable hash, the canary scaled
  to 0 after ``abort-scale-down-delay`` (router ``none``: at once, since its pods *are* the weight);
  the user's Deployment stays paused on the old pods.
- **At rest** (the template is the stable one): converge to weight 0 and no managed routes, delete a
  leftover canary after its delay, unpause a Deployment that a release held (fast rollback).
"""

from __future__ import annotations

from webhook.release import scaling
from webhook.release.actions import end_analysis
from webhook.release.draft import Ctx, Draft, Work, floor_for, route
from webhook.release.names import HASH_LABEL
from webhook.release.ops import DeleteCanary, PatchDeployment, ScaleCanary
from webhook.release.progress import (
    Canary,
    canary_ops,
    canary_pin,
    need,
    planned_weight,
    routes_for,
    stable_pin,
)
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
    replicas = d.replicas
    if not d.rollout_complete:
        weight = planned_weight(ctx, work, canary, ctx.n, replicas)
        routes = routes_for(ctx, work, canary, ctx.n)
        route(
            ctx, work, draft, weight=weight, hashes=(d.hash, work.status.stable_hash), routes=routes
        )
        if not ctx.routed:
            work.set(weight=weight)
        canary_ops(ctx, work, draft, canary, need(ctx, ctx.n, replicas))
        if d.deadline_exceeded:
            message = "promoting: the Deployment's rollout exceeded its progress deadline"
            if work.status.message != message:
                draft.event("PromotionStalled", message, warning=True)
        else:
            message = "promoting: waiting for the Deployment's rollout"
        work.set(phase=Phase.PROMOTING, message=message)
        return
    finish(ctx, work, draft)


def finish(ctx: Ctx, work: Work, draft: Draft) -> None:
    """The Deployment runs the new revision everywhere: make it the stable one."""
    d, spec = ctx.d, ctx.spec
    new = Pin(HASH_LABEL, d.hash)
    choice = find_stable(ctx.world, spec.stable_service, spec.canary_service)
    if choice.service is not None:
        if pins_services(spec):
            patch = pin_patch(choice.service, new, d.name)
            if patch:
                draft.add(patch)
                draft.event(
                    "ServiceSwitched", f"Service {choice.service.name} now selects {d.hash}"
                )
        if has_canary_service(spec):
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
        scale_down_at=after(ctx.now, spec.scale_down_delay),
    )
    draft.event("Promoted", f"{d.hash} is the stable revision")
    end_analysis(ctx, work)
    if ctx.world.canary is not None:
        draft.wake(spec.scale_down_delay)


def aborted(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> None:
    d, spec, status = ctx.d, ctx.spec, work.status
    stable = status.stable_hash
    replicas = restore_stable(ctx, work, draft)
    weight = scaling.next_weight(
        target=0,
        applied=status.weight,
        ready=True,
        canary_available=canary.serving,
        floor=floor_for(ctx, stable, replicas),
    )
    if not ctx.routed:
        weight = 0  # router none: the canary pods leave at once, and with them the weight
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
    view = canary.view
    if view is not None and view.owned:
        count = view.replicas
        aborted_at = parse(status.aborted_at) or ctx.now
        deadline = aborted_at.timestamp() + spec.abort_scale_down_delay
        if not ctx.routed or (weight == 0 and ctx.now.timestamp() >= deadline):
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


def restore_stable(ctx: Ctx, work: Work, draft: Draft) -> int:
    """Dynamic stable scale: give the Deployment back the replica count it had. Returns it."""
    replicas = ctx.replicas(work.books)
    if work.books.stable_replicas is not None and replicas != ctx.d.replicas:
        draft.add(PatchDeployment(replicas=replicas))
    work.book(replicas=None, stable_replicas=None)
    return replicas


def at_rest(ctx: Ctx, work: Work, draft: Draft) -> None:
    d, status = ctx.d, work.status
    stable = d.hash
    release = work.books.release
    rollback = bool(release and release != stable) or bool(
        status.canary_hash and status.canary_hash != stable
    )
    replicas = restore_stable(ctx, work, draft)
    view = ctx.world.canary if ctx.world.canary and ctx.world.canary.owned else None
    serving = view.available if view else 0
    weight = scaling.next_weight(
        target=0,
        applied=status.weight,
        ready=True,
        canary_available=serving,
        floor=floor_for(ctx, stable, replicas),
    )
    if not ctx.routed:
        weight = 0
    routed = work.books.routed_hashes
    hashes = (stable, stable) if weight == 0 or routed is None else (routed[0], stable)
    route(ctx, work, draft, weight=weight, hashes=hashes, routes=ActiveRoutes())
    work.set(weight=weight)
    rest_services(ctx, draft, stable, weight)
    if view is not None:
        remove_canary(ctx, work, draft, view.name, weight, rollback)
    else:
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
    work.book(release="", promote_full=False, user_paused=False, abort_reason="")


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
    spec = ctx.spec
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
