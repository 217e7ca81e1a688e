"""The release planner: ``plan(world, now) -> Plan``, a pure function.

Given everything one reconcile looks at (``World``: the user's Deployment with its status
annotation and parsed spec, the canary Deployment, the user's ReplicaSets, the Services, what the
routers verified) and the time, it decides the ordered writes, the Events and when to look again.
It reads no clock and does no I/O, so every decision is tested with tables of cases.

Which path a Deployment takes:
- being deleted → restore the shared objects canarist changed (``teardown.gone``);
- not managed (no opt-in label, no policy adopting it, or opted out) → undo everything,
  unpause, drop the status (``teardown.opt_out``);
- annotations that do not parse → report, change nothing;
- a promotion handing the canary's ReplicaSet over → carry it on (``ending.handing_over``);
- template == stable revision → converge to rest (``ending.at_rest``; a fast rollback lands here);
- otherwise a release: fresh (new canary hash: step 0, weight 0 first; or waiting for a slot of
  its policy, ``queueing.wait``), aborted, promoting, or walking the steps (``progress.steps``).

The status books the policy governing the Deployment, and an exempt user's bypass of it (the
webhook's ``canarist.io/bypass`` record) becomes one Warning Event ``PolicyBypassed``.
"""

from __future__ import annotations

from datetime import datetime

from webhook.release import actions, ending, gates, progress, queueing, replicas, teardown
from webhook.release.bookkeeping import Books
from webhook.release.canary import current_canary
from webhook.release.draft import Ctx, Draft, Work
from webhook.release.model import World
from webhook.release.ops import PatchDeployment, Plan, WriteStatus
from webhook.spec import Phase, ReleaseStatus
from webhook.spec.history import History, Point, record
from webhook.spec.names import HISTORY


def plan(world: World, now: datetime) -> Plan:
    d = world.deployment
    if d.deleting:
        return teardown.gone(world)
    if not world.managed:
        return teardown.opt_out(world)
    if world.spec is None:
        return _invalid(world)
    ctx = Ctx(world, world.spec, now)
    work = Work(world.status, Books.of(world.status))
    draft = Draft()
    _policy(world, work, draft)
    if not work.status.stable_hash:
        work.set(stable_hash=d.hash, canary_hash=d.hash)
    work.set(steps=ctx.n)
    in_release = d.hash != work.status.stable_hash
    replicas.observe_total(ctx, work, draft, in_release=in_release)
    if work.books.handover and ending.handing_over(ctx, work, draft):
        return _finish(ctx, work, draft)
    if not in_release:
        actions.apply_action(ctx, work, draft, in_release=False)
        ending.at_rest(ctx, work, draft)
    else:
        _release(ctx, work, draft)
    return _finish(ctx, work, draft)


def _policy(world: World, work: Work, draft: Draft) -> None:
    work.book(policy=world.policy.name if world.policy is not None else "")
    record = world.bypass
    if record is not None and record.uid and record.uid != work.books.bypass_recorded:
        draft.event("PolicyBypassed", record.event_message(), warning=True)
        work.book(bypass_recorded=record.uid)


def _release(ctx: Ctx, work: Work, draft: Draft) -> None:
    d = ctx.d
    if work.books.release != d.hash:
        if not work.books.release and queueing.wait(ctx, work, draft):
            return
        _start(ctx, work, draft)
    if not d.paused and work.status.phase != Phase.PROMOTING:
        work.unpause = False
        draft.add(PatchDeployment(paused=True))
        draft.event(
            "Held",
            f"the template changed to {d.hash} without being held at admission; pausing it",
            warning=True,
        )
    actions.apply_action(ctx, work, draft, in_release=True)
    canary = current_canary(ctx)
    if (
        work.status.aborted_at is None
        and canary.current
        and canary.view is not None
        and canary.view.deadline_exceeded
    ):
        actions.abort(ctx, work, draft, "canary Deployment exceeded its progress deadline")
    if ctx.world.canary is not None and not ctx.world.canary.owned:
        progress.blocked(
            work, draft, f"Deployment {d.canary_name} exists and is not managed by canarist"
        )
        return
    if ctx.world.analysis is not None:
        work.set(analysis=ctx.world.analysis.to_dict())
    if work.status.aborted_at is None and work.status.phase != Phase.PROMOTING:
        _analysis_gates(ctx, work, draft)
    if work.status.aborted_at is not None:
        ending.aborted(ctx, work, draft, canary)
        return
    if work.status.phase == Phase.PROMOTING:
        ending.promoting(ctx, work, draft, canary)
        return
    progress.steps(ctx, work, draft, canary)


def _analysis_gates(ctx: Ctx, work: Work, draft: Draft) -> None:
    """A failed analysis (of the current step, or in the background) aborts; an inconclusive
    background analysis holds the steps."""
    i = min(work.status.step, ctx.n)
    step = gates.step_gate(ctx.spec, ctx.world, i, ctx.now)
    background = gates.background_gate(ctx.spec, ctx.world, i, ctx.now)
    for gate in (step, background):
        if gate.verdict == "fail":
            actions.abort(ctx, work, draft, gate.message)
            return
    if background.verdict == "hold":
        work.hold = background.message
    if background.wake is not None:
        draft.wake(background.wake)


def _start(ctx: Ctx, work: Work, draft: Draft) -> None:
    d, previous = ctx.d, work.books.release
    if previous and previous != d.hash:
        draft.event("ReleaseRestarted", f"new revision {d.hash} replaces {previous}: from step 1")
    else:
        draft.event("ReleaseStarted", f"releasing {d.hash} over {work.status.stable_hash}")
    work.set(
        phase=Phase.PROGRESSING,
        canary_hash=d.hash,
        step=0,
        started_at=ctx.stamp,
        step_started_at=ctx.stamp,
        aborted_at=None,
        analysis=None,
    )
    work.book(
        release=d.hash,
        promote_full=False,
        user_paused=False,
        abort_reason="",
        scale_down_at=None,
        replicas_held=False,
        queued_at=None,
    )


def _invalid(world: World) -> Plan:
    message = f"invalid canarist annotations: {world.spec_error}"
    if world.status.message == message:
        return Plan()
    draft = Draft()
    draft.event("InvalidSpec", message, warning=True)
    draft.add(WriteStatus(world.status.with_(message=message)))
    return draft.plan()


def _finish(ctx: Ctx, work: Work, draft: Draft) -> Plan:
    """Write the status last: in the write that unpauses or scales the Deployment, or through
    the status subresource when it changed or an action was consumed."""
    status = work.final()
    consume = ctx.spec.action is not None
    if work.unpause or work.replicas is not None:
        draft.add(
            PatchDeployment(
                paused=False if work.unpause else None,
                replicas=work.replicas,
                status=status,
                consume_action=consume,
                history=_history(ctx, status),
            )
        )
    elif consume or status.to_dict() != ctx.world.status.to_dict():
        draft.add(WriteStatus(status, consume_action=consume, history=_history(ctx, status)))
    return draft.plan()


def _history(ctx: Ctx, status: ReleaseStatus) -> str | None:
    """``canarist.io/history`` with this plan's point added, when it adds one. Only called for a
    plan that writes the status anyway: a point changes the phase, step or weight, all in the
    status, so the history never costs a write of its own."""
    handing_over = bool(Books.of(status).handover)  # the new revision already the stable one
    releasing = (status.in_release or handing_over) and status.aborted_at is None
    set_weight = progress.target(ctx, min(status.step, ctx.n)) if releasing else 0
    point = Point(
        at=int(ctx.now.timestamp()),
        set_weight=set_weight,
        weight=status.weight,
        phase=(status.phase or Phase.HEALTHY).value,
        step=status.step,
    )
    previous = History.from_json(ctx.d.annotations.get(HISTORY))
    changed = record(previous, status.canary_hash, point, starts=status.in_release)
    return changed.to_json() if changed is not None else None
