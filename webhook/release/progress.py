"""A release in flight: the steps, the promotion, and the Deployment's own rollout after it.

Order inside one plan (each operation may assume the ones before it succeeded):
1. pin the stable Service to the stable pods; ensure the canary Service on the canary hash;
2. walk the steps that are complete (scale first, wait for canary availability, then traffic);
3. drive the routers (a weight going down is written before the hashes move);
4. replace a canary of an older revision (only once no traffic goes to it), create or scale the
   canary Deployment;
5. with dynamic stable scale, shrink the stable pods the traffic has left;
6. at the end of the steps, with all traffic on a fully available canary, hand the canary's
   ReplicaSet over to the user's Deployment (``webhook.release.handover``), or unpause it with
   ``phase: Promoting`` in the same write.
"""

from __future__ import annotations

from webhook.release import gates, handover, scaling
from webhook.release.basic import basic, retire, scale_basic, split, stable_side
from webhook.release.canary import Canary, canary_ops
from webhook.release.draft import VERIFY_RETRY, Ctx, Draft, Work, floor_for, route
from webhook.release.model import ServiceView
from webhook.release.names import HASH_LABEL
from webhook.release.replicas import ask_stable, give_back
from webhook.release.scaling import Side
from webhook.release.services import (
    Pin,
    StableChoice,
    canary_service_ops,
    find_stable,
    has_canary_service,
    pin_for,
    pin_patch,
    pins_services,
    subset_level_only,
)
from webhook.release.stepping import ActiveRoutes, describe, routes_at, scale_override_at, weight_at
from webhook.release.teardown import restore_services
from webhook.release.timefmt import after, parse
from webhook.spec import AnalysisStep, Pause, Phase, SetCanaryScale, SetWeight


def stable_service(
    ctx: Ctx, draft: Draft, stable_pin: Pin, *, switched: bool = False
) -> StableChoice:
    """Find the stable Service and pin it (traffic routers only: with ``none`` the user's Service
    must keep selecting both revisions; with an Istio subset-level split it is the Service both
    subsets live on, left as it is — one pinned by an earlier version is given back). With
    ``switched`` (the promotion, all traffic on the canary), one the promotion already switched
    to the new revision stays so."""
    choice = find_stable(ctx.world, ctx.spec.stable_service, ctx.spec.canary_service)
    if subset_level_only(ctx.spec):
        restore_services(ctx.world, draft, delete_owned=True)
        return choice
    service = choice.service
    if switched and service is not None and service.selector.get(HASH_LABEL) == ctx.d.hash:
        return choice
    if choice.service is not None and ctx.routed:
        patch = pin_patch(choice.service, stable_pin, ctx.d.name)
        if patch:
            draft.add(patch)
    return choice


def canary_service(
    ctx: Ctx, draft: Draft, stable: ServiceView | None, pin: Pin, *, create_only: bool = False
) -> None:
    """``create_only``: create the canary Service when it is missing. Otherwise: re-point an
    existing one (a missing one was created by the first call of the same plan)."""
    if stable is None or not has_canary_service(ctx.spec):
        return
    name = ctx.spec.canary_service_for(stable.name)
    exists = ctx.world.service(name) is not None
    if create_only == exists:
        return
    draft.add(*canary_service_ops(ctx.world, stable, name, pin))


def need(ctx: Ctx, i: int, replicas: int) -> int:
    """Canary pods step ``i`` needs (``i == n``: promotion, the full count)."""
    steps = ctx.spec.steps
    if not ctx.routed:
        return split(ctx, i, replicas)[0]
    if i >= ctx.n:
        return replicas
    override = scale_override_at(steps, i)
    if override is not None:
        if override.replicas is not None:
            return override.replicas
        return scaling.canary_for_weight(replicas, override.weight or 0)
    return scaling.canary_for_weight(replicas, weight_at(steps, i))


def settled(ctx: Ctx, i: int, replicas: int, weight: int | None = None) -> tuple[int, int]:
    """``(canary, stable)`` pods once step ``i`` (or ``weight``) is in effect, as ``render``
    shows them: what the steps ask for, with the weight applied."""
    if not ctx.routed:
        if weight is None:
            return split(ctx, i, replicas)
        return scaling.approximate(replicas, weight, ctx.fence(replicas)[0])
    if weight is None:
        count, weight = need(ctx, i, replicas), target(ctx, i)
    else:
        count = scaling.canary_for_weight(replicas, weight)
    if ctx.spec.dynamic_stable_scale:
        return count, scaling.stable_for_weights(replicas, weight, weight)
    return count, replicas


def ready(ctx: Ctx, work: Work, canary: Canary, i: int) -> bool:
    replicas = work.total
    count = need(ctx, i, replicas)
    if ctx.routed:
        return canary.has(count)
    # router none: the pods are the weight, so both sides must be at the step's counts (asked
    # for, by this plan or before, and the pods there: created or gone on the stable side, as
    # Argo's basic canary asks, available on the canary's)
    want, stable = split(ctx, i, replicas)
    own = Side(canary.replicas, canary.available)
    asked = basic(ctx, work, target(ctx, i), stable_side(ctx, work), own)
    at_stable = work.books.replicas_held or (
        asked[1] == stable and ctx.d.status_replicas == stable
    )
    return asked[0] == want == canary.available and at_stable


def target(ctx: Ctx, i: int) -> int:
    if i >= ctx.n:
        return 100
    return weight_at(ctx.spec.steps, i)


def planned_weight(ctx: Ctx, work: Work, canary: Canary, i: int) -> int:
    """The weight step ``i`` runs at now (router ``none``: the weight its pod counts stand for,
    once they are reached)."""
    stable = work.status.stable_hash
    floor = floor_for(ctx, stable, work.total) if ctx.routed else 0
    return scaling.next_weight(
        target=target(ctx, i),
        applied=work.status.weight,
        ready=ready(ctx, work, canary, i),
        canary_available=canary.available,
        floor=floor,
    )


def applied(ctx: Ctx, work: Work, weight: int) -> bool:
    """``weight`` counts as in effect: written this plan by routers that cannot verify, or
    written before and verified."""
    verified = ctx.world.verified
    if verified is None:
        return True
    return ctx.world.status.weight == weight and verified


def complete(ctx: Ctx, work: Work, draft: Draft, canary: Canary, i: int) -> bool:
    step = ctx.spec.steps[i]
    if isinstance(step, SetWeight | SetCanaryScale):
        if not ready(ctx, work, canary, i):
            return False
        if isinstance(step, SetCanaryScale) or not ctx.routed:
            return True
        weight = planned_weight(ctx, work, canary, i)
        return need(ctx, i, work.total) == 0 or (
            weight == step.weight and applied(ctx, work, weight)
        )
    if isinstance(step, Pause):
        if step.duration is None:
            return False
        started = parse(work.status.step_started_at) or ctx.now
        return (ctx.now - started).total_seconds() >= step.duration
    if isinstance(step, AnalysisStep):
        gate = gates.step_gate(ctx.spec, ctx.world, i, ctx.now)
        if gate.wake is not None:
            draft.wake(gate.wake)
        return gate.verdict == "pass"
    return True  # header and mirror routes are declarations: applied whenever the canary can


def advance(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> int:
    i = min(work.status.step, ctx.n)
    if work.books.user_paused or work.hold:
        return i
    while i < ctx.n and complete(ctx, work, draft, canary, i):
        draft.event(
            "StepCompleted", f"step {i + 1}/{ctx.n} completed ({describe(ctx.spec.steps[i])})"
        )
        i += 1
        work.set(step=i, step_started_at=ctx.stamp)
    return i


def routes_for(ctx: Ctx, work: Work, canary: Canary, i: int) -> ActiveRoutes:
    """Header and mirror routes only while the canary has pods, and not after promote-full."""
    if canary.available <= 0 or work.books.promote_full:
        return ActiveRoutes()
    return routes_at(ctx.spec.steps, i)


def stable_scale(ctx: Ctx, work: Work, weight: int) -> None:
    """Dynamic stable scale: the stable pods the traffic has left go; when the step's ``weight``
    is lower than the applied one, stable grows first so the traffic can come back."""
    if not ctx.spec.dynamic_stable_scale:
        return
    verified = ctx.world.verified
    if verified is False:
        return  # the recorded weight is not in effect yet: stable keeps its pods
    # a router that cannot verify: the weight written earlier in this plan is in effect;
    # one that can: only the weight it verified
    settled = work.status.weight if verified is None else ctx.world.status.weight
    want = scaling.stable_for_weights(work.total, weight, min(settled, weight))
    ask_stable(ctx, work, want)


def steps(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> None:
    replicas = work.total
    cur, stable = ctx.d.hash, work.status.stable_hash
    # the promotion switched the stable Service to the new pods: it stays so while the weight
    # stays at 100 (with no canary pod left the weight goes to 0: the old pods first)
    at_100 = work.status.step >= ctx.n and work.status.weight == 100 and canary.available > 0
    choice = stable_service(ctx, draft, stable_pin(ctx, stable), switched=at_100)
    if choice.service is None and pins_services(ctx.spec):
        blocked(work, draft, choice.problem)
        return
    # the canary Service exists before any router refers to it; an existing one is re-pointed
    # only after the traffic has left the pods it selected
    canary_service(ctx, draft, choice.service, canary_pin(ctx), create_only=True)
    if ctx.routed and drain(ctx, work, draft, canary):
        return
    if not ctx.routed:
        left = retire(ctx, work, draft, canary)
        if left is None:
            return
        canary = left
    i = advance(ctx, work, draft, canary)
    weight = planned_weight(ctx, work, canary, i)
    routes = routes_for(ctx, work, canary, i)
    route(ctx, work, draft, weight=weight, hashes=(cur, stable), routes=routes)
    if not ctx.routed:
        work.set(weight=weight)
    canary_service(ctx, draft, choice.service, canary_pin(ctx))
    if ctx.routed:
        count = need(ctx, i, replicas)
        if i < ctx.n and scale_override_at(ctx.spec.steps, i) is None:
            count = max(count, scaling.canary_for_weight(replicas, work.status.weight))
        canary_ops(ctx, work, draft, canary, count)
    elif i < ctx.n:
        own = Side(canary.replicas, canary.available)
        counts = basic(ctx, work, target(ctx, i), stable_side(ctx, work), own)
        scale_basic(ctx, work, draft, canary, counts)
    settled = False
    if i >= ctx.n:
        settled = promote(ctx, work, draft, canary)
    else:
        describe_progress(ctx, work, draft, canary, i)
    if ctx.routed and not settled:
        stable_scale(ctx, work, target(ctx, i))
    if ctx.world.verified is False:
        draft.wake(VERIFY_RETRY)


def drain(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> bool:
    """A canary of an older revision still has traffic: take it back first, no faster than the
    stable pods can absorb it, with the routers still pointing at the old pods. ``True`` while
    that is not done (the new canary waits: it needs the name)."""
    view = canary.view
    if view is None or canary.current or not view.owned or work.status.weight == 0:
        return False
    stable = work.status.stable_hash
    weight = scaling.next_weight(
        target=0,
        applied=work.status.weight,
        ready=True,
        canary_available=canary.serving,
        floor=floor_for(ctx, stable, work.total),
    )
    if weight == 0:
        return False  # the normal path writes weight 0 first, then replaces the canary
    old = work.books.routed_hashes[0] if work.books.routed_hashes else view.hash
    route(ctx, work, draft, weight=weight, hashes=(old, stable), routes=ActiveRoutes())
    stable_scale(ctx, work, 0)
    work.set(
        phase=Phase.PROGRESSING,
        message=f"replacing the canary of {view.hash}: the stable pods take its traffic back",
    )
    return True


def blocked(work: Work, draft: Draft, problem: str) -> None:
    message = f"waiting: {problem}"
    if work.status.message != message:
        draft.event("ReleaseBlocked", problem, warning=True)
    work.set(message=message)


def promote(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> bool:
    """All steps done: with all traffic on a fully available canary, hand the canary's
    ReplicaSet over to the user's Deployment (``webhook.release.handover``), or, when that
    cannot be done, unpause the Deployment so that it rolls the template out itself. Router
    ``none`` unpauses at once: the Deployment replaces its stable pods with new ones, and the
    canary's pods move over to it afterwards (``ending.promoting``). ``True`` when the stable
    pods' count is the promotion's (dynamic stable scale no longer shrinks them)."""
    replicas = work.total
    full = canary.has(replicas)
    go = (
        not ctx.routed
        or replicas == 0
        or (full and work.status.weight == 100 and applied(ctx, work, 100))
    )
    if not go:
        what = "scaling the canary to full capacity" if not full else "shifting all traffic to it"
        work.set(phase=Phase.PROGRESSING, message=f"promoting: {what}")
        return False
    if ctx.routed:
        give_back(ctx, work)  # the full count first: in the hand-over's writes, or the unpause
    verdict = handover.check(ctx, work)
    if verdict.go:
        assert verdict.rs is not None
        if not handover.old_pods_stay(ctx, work, draft):
            handover.start(ctx, work, draft, verdict.rs)
        return True
    if verdict.wait:
        work.set(phase=Phase.PROGRESSING, message=f"promoting: waiting for {verdict.reason}")
        return True
    work.unpause = True
    work.book(scale_down_at=None)  # counted from the rollout's end
    if ctx.routed:
        handover.switch_stable_service(ctx, draft)
    else:
        work.set(weight=100)
    work.set(phase=Phase.PROMOTING)
    rollout_message(ctx, work, draft)
    draft.event(
        "Promoting",
        f"all traffic on the canary; rolling out {ctx.d.hash} (not handed over: {verdict.reason})",
    )
    if verdict.warn:
        draft.event("HandOverSkipped", f"promotion rolls out: {verdict.reason}", warning=True)
    return True


def rollout_message(ctx: Ctx, work: Work, draft: Draft) -> None:
    if ctx.d.deadline_exceeded:
        message = "promoting: the Deployment's rollout exceeded its progress deadline"
        if work.status.message != message:
            draft.event("PromotionStalled", message, warning=True)
    elif ctx.routed:
        message = "promoting: waiting for the Deployment's rollout"
    else:
        message = MOVING_PODS
    work.set(phase=Phase.PROMOTING, message=message)


MOVING_PODS = "promoting: waiting for the Deployment's rollout, then moving the canary's pods to it"


def describe_progress(ctx: Ctx, work: Work, draft: Draft, canary: Canary, i: int) -> None:
    step = ctx.spec.steps[i]
    head = f"step {i + 1}/{ctx.n}: {describe(step)}"
    if work.books.user_paused:
        work.set(phase=Phase.PAUSED, message=f"paused by user at {head}; resume to continue")
    elif work.hold:
        work.set(phase=Phase.PAUSED, message=f"{head}: {work.hold}")
    elif isinstance(step, AnalysisStep):
        gate = gates.step_gate(ctx.spec, ctx.world, i, ctx.now)
        phase = Phase.PAUSED if gate.verdict == "hold" else Phase.PROGRESSING
        work.set(phase=phase, message=f"{head}: {gate.message or 'measuring'}")
    elif isinstance(step, Pause) and step.duration is None:
        work.set(phase=Phase.PAUSED, message=f"{head}: waiting for promote")
    elif isinstance(step, Pause):
        started = parse(work.status.step_started_at) or ctx.now
        until = after(started, step.duration or 0.0)
        work.set(phase=Phase.PAUSED, message=f"{head}: paused until {until}")
        left = (step.duration or 0.0) - (ctx.now - started).total_seconds()
        draft.wake(left)
    else:
        waiting = "" if ready(ctx, work, canary, i) else ": scaling the canary"
        work.set(phase=Phase.PROGRESSING, message=head + waiting)


def canary_pin(ctx: Ctx) -> Pin:
    return Pin(HASH_LABEL, ctx.d.hash)


def stable_pin(ctx: Ctx, stable: str) -> Pin:
    return pin_for(stable, ctx.world.replica_sets)
