"""Router ``none`` (Argo Rollouts' basic canary): the pod counts are the weight.

The split of the user's ``R`` pods for a step (``split``), and the moves towards a split within
the Deployment's ``maxSurge``/``maxUnavailable`` (``basic``, ``scale_basic``): on the way up, on
an abort or a rollback, and while a canary of an older revision is scaled away (``retire``).
The arithmetic is ``webhook.release.scaling``; ``spec.replicas`` is written through
``webhook.release.replicas``.
"""

from __future__ import annotations

from webhook.release import scaling
from webhook.release.canary import Canary, canary_ops
from webhook.release.draft import Ctx, Draft, Work
from webhook.release.ops import DeleteCanary, ScaleCanary
from webhook.release.replicas import ask_stable
from webhook.release.scaling import Side
from webhook.release.stepping import weight_at
from webhook.spec import Phase


def split(ctx: Ctx, i: int, replicas: int) -> tuple[int, int]:
    """Router ``none``: the ``(canary, stable)`` pods step ``i`` runs at (Argo's basic canary)."""
    weight = weight_at(ctx.spec.steps, min(i, ctx.n - 1))
    return scaling.approximate(replicas, weight, ctx.fence(replicas)[0])


def basic(ctx: Ctx, work: Work, weight: int, stable: Side, canary: Side) -> tuple[int, int]:
    """Router ``none``: ``(canary, stable)`` to ask for now, on the way to ``weight``."""
    total = work.total
    if work.books.replicas_held:  # someone else holds spec.replicas: only the canary moves
        surge = ctx.fence(total)[0]
        return scaling.approximate(total, weight, surge)[0], ctx.d.replicas
    return scaling.basic_counts(total, weight, ctx.fence(total), stable, canary)


def scale_basic(
    ctx: Ctx, work: Work, draft: Draft, canary: Canary, counts: tuple[int, int]
) -> None:
    """Ask for ``(canary, stable)`` pods, what shrinks before what grows (so the pods asked for
    never add up to more than before or after): a canary that grows while the stable side
    shrinks waits for the plan's write of ``spec.replicas``."""
    count, stable = counts
    ask_stable(ctx, work, stable)
    canary_ops(ctx, work, draft, canary, count, later=stable < ctx.d.replicas)


def stable_side(ctx: Ctx, work: Work) -> Side:
    """The user's Deployment's side: every pod it runs is behind the user's Service, whatever
    its revision (a promotion cut short by a new template leaves it running the promoted one:
    those pods serve, and the paused Deployment keeps them)."""
    return Side(ctx.d.replicas, sum(rs.available for rs in ctx.world.replica_sets))


def retire(ctx: Ctx, work: Work, draft: Draft, canary: Canary) -> Canary | None:
    """Router ``none``: a canary of an older revision still has pods behind the user's Service;
    scale it away (the stable pods back first) before the new one starts. ``None`` until then;
    then the canary to go on with — none, when its last pods go in this plan: it is deleted
    here, before the stable side grows, whether the steps go on or the promotion starts (the
    Deployment's own rollout must not surge on top of its pods)."""
    view = canary.view
    if view is None or canary.current or not view.owned or view.replicas == 0:
        return canary
    old = Side(view.replicas, view.available)
    count, stable = basic(ctx, work, 0, stable_side(ctx, work), old)
    ask_stable(ctx, work, stable)
    if count == 0:
        draft.add(DeleteCanary(view.name))  # before the plan's write of spec.replicas
        return Canary(None, current=False)
    if count != view.replicas:
        draft.add(ScaleCanary(view.name, count))  # shrinks: before the stable side grows
    work.set(
        phase=Phase.PROGRESSING,
        weight=0,
        message=f"replacing the canary of {view.hash}: scaling its pods away",
    )
    return None
