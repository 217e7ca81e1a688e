"""``canarist.io/action``: what each action does to the release, decided before the stages run.

The action is always consumed (removed in the plan's status write); one that means nothing in the
current state is ignored with a Warning Event saying why.

- ``promote``: skip the current step (a pause, a weight not reached yet, an analysis); lifts a
  user's pause.
- ``promote-full``: skip every remaining step and the header/mirror routes; weight 100 once the
  canary is fully available; lifts an abort. Refused when the Deployment's cluster policy has
  ``rules.allowPromoteFull: false`` (in the words the CLI uses), unless the webhook recorded an
  exempt user's bypass of that rule.
- ``abort``: weight 0 and routes removed at once, the canary scaled away after the delay; phase
  ``Degraded``.
- ``retry``: after an abort, the release starts again from step 0.
- ``pause``: no step advances until ``resume`` (safety decisions still run).
- ``resume``: lifts ``pause``.
"""

from __future__ import annotations

from webhook.policy import promote_full_refusal
from webhook.release import gates
from webhook.release.draft import Ctx, Draft, Work
from webhook.release.stepping import describe
from webhook.spec import Action, Phase

PROMOTE_FULL_RULE = "rules.allowPromoteFull"


def apply_action(ctx: Ctx, work: Work, draft: Draft, *, in_release: bool) -> None:
    action = ctx.spec.action
    if action is None:
        return
    books, status = work.books, work.status
    aborted = status.aborted_at is not None
    promoting = status.phase == Phase.PROMOTING
    why = _refusal(
        action,
        in_release=in_release,
        aborted=aborted,
        promoting=promoting,
        user_paused=books.user_paused,
        at_end=status.step >= ctx.n,
    )
    if not why and action is Action.PROMOTE_FULL:
        why = policy_refusal(ctx)
    if why:
        draft.event("ActionIgnored", f"{action.value} ignored: {why}", warning=True)
        return
    i = min(status.step, ctx.n)
    if action is Action.PROMOTE:
        step = describe(ctx.spec.steps[i])
        draft.event("StepSkipped", f"step {i + 1}/{ctx.n} ({step}) skipped by promote")
        work.set(step=i + 1, step_started_at=ctx.stamp)
        work.book(user_paused=False)
    elif action is Action.PROMOTE_FULL:
        draft.event(
            "PromoteFull", "remaining steps skipped: promoting once the canary is fully available"
        )
        work.set(step=ctx.n, step_started_at=ctx.stamp, aborted_at=None)
        work.book(promote_full=True, user_paused=False, abort_reason="")
    elif action is Action.ABORT:
        abort(ctx, work, draft, "aborted by user")
    elif action is Action.RETRY:
        draft.event("Retried", f"release of {ctx.d.hash} restarts from step 1")
        work.set(
            step=0, step_started_at=ctx.stamp, started_at=ctx.stamp, aborted_at=None, analysis=None
        )
        work.book(abort_reason="", promote_full=False, user_paused=False)
    elif action is Action.PAUSE:
        draft.event("Paused", "release paused by user")
        work.book(user_paused=True)
    elif action is Action.RESUME:
        draft.event("Resumed", "release resumed by user")
        work.book(user_paused=False)


def policy_refusal(ctx: Ctx) -> str:
    """Why the Deployment's policy forbids ``promote-full`` (empty if it does not, or an exempt
    user's bypass of the rule is recorded)."""
    record = ctx.world.bypass
    if record is not None and PROMOTE_FULL_RULE in record.rules:
        return ""
    return promote_full_refusal(ctx.world.policy)


def abort(ctx: Ctx, work: Work, draft: Draft, reason: str) -> None:
    draft.event(
        "Aborted",
        f"release of {ctx.d.hash} stopped ({reason}); traffic back to {work.status.stable_hash}",
        warning=True,
    )
    work.set(aborted_at=ctx.stamp, phase=Phase.DEGRADED)
    work.book(abort_reason=reason, promote_full=False, user_paused=False)
    end_analysis(ctx, work)


def end_analysis(ctx: Ctx, work: Work) -> None:
    """The release is over: end its background analysis run."""
    record = gates.ended(ctx.spec, ctx.world, ctx.now)
    if record is not None:
        work.set(analysis=record.to_dict())


def _refusal(
    action: Action,
    *,
    in_release: bool,
    aborted: bool,
    promoting: bool,
    user_paused: bool,
    at_end: bool,
) -> str:
    if not in_release:
        return "no release in progress"
    if promoting:
        return "the promotion is under way; revert the template to roll back"
    if action is Action.RETRY:
        return "" if aborted else "the release is not aborted"
    if action is Action.PROMOTE_FULL:
        return ""
    if aborted:
        return "the release is aborted; retry it, or promote-full"
    if action is Action.PROMOTE and at_end:
        return "every step is done; the promotion waits for the canary to be fully available"
    if action is Action.RESUME and not user_paused:
        return "the release is not paused by a user (promote skips a pause step)"
    if action is Action.PAUSE and user_paused:
        return "the release is already paused"
    return ""
