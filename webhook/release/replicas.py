"""The user's replica count while canarist writes ``spec.replicas`` of their Deployment.

Dynamic stable scale and router ``none`` run the stable pods below the user's count ``R`` during
a release, and the only way to do that to a Deployment is its ``spec.replicas`` (the Deployment
controller owns its ReplicaSets' counts and would scale them back). Argo Rollouts never has to
tell whose number ``spec.replicas`` is — it scales ReplicaSets and leaves the Rollout's field to
the user and the HPA — so canarist keeps ``R`` (books ``replicas``) and the count it wrote
(``stableReplicas``) in the status, **in the same write** as ``spec.replicas`` itself (the plan's
last write to the Deployment): the three never disagree.

Whose number ``spec.replicas`` is (``user_total``):

- canarist wrote nothing: it is ``R``, the user's (or the HPA's);
- it still holds the count canarist wrote: ``R`` is the booked one;
- it holds another number, not the booked ``R``: that is the new ``R`` (``kubectl scale``, an HPA,
  an apply that changed it);
- it holds the booked ``R`` again: someone insists on that count for the Deployment itself (an
  HPA's ``minReplicas``, a GitOps sync that does not ignore the field). canarist leaves
  ``spec.replicas`` alone for the rest of the release rather than fight over it (Warning Event
  ``ReplicasOverridden``).

A write of the very value canarist wrote is indistinguishable from no write (it changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.release.bookkeeping import Books
from webhook.release.draft import Ctx, Draft, Work


@dataclass(frozen=True)
class Total:
    replicas: int
    overridden: bool = False  # someone set spec.replicas back to the total canarist knew


def user_total(spec_replicas: int, books: Books) -> Total:
    """``R``, from the Deployment's ``spec.replicas`` and what canarist booked when it wrote it."""
    if books.stable_replicas is None or books.replicas is None:
        return Total(spec_replicas)
    if spec_replicas == books.stable_replicas:
        return Total(books.replicas)
    return Total(spec_replicas, overridden=spec_replicas == books.replicas)


def observe_total(ctx: Ctx, work: Work, draft: Draft, *, in_release: bool) -> None:
    """Set ``work.total``; in a release, stop writing ``spec.replicas`` when someone insists on
    the total (see the table above)."""
    total = user_total(ctx.d.replicas, work.books)
    work.total = total.replicas
    if total.overridden and in_release and not work.books.replicas_held:
        work.book(replicas=None, stable_replicas=None, replicas_held=True)
        draft.event(
            "ReplicasOverridden",
            f"spec.replicas was set back to {total.replicas} while canarist ran the stable pods "
            "below it (an HorizontalPodAutoscaler's minReplicas, or a GitOps sync that does not "
            "ignore spec.replicas?): canarist leaves spec.replicas alone for the rest of this "
            "release",
            warning=True,
        )
    elif not total.overridden and work.books.stable_replicas not in (None, ctx.d.replicas):
        work.book(replicas=None, stable_replicas=None)  # a new total: booked again when written


def ask_stable(ctx: Ctx, work: Work, count: int) -> None:
    """Run ``count`` stable pods: ``spec.replicas`` is written with the status (and the books)
    in the plan's last write, unless it already says so or someone else holds it."""
    if work.books.replicas_held:
        return
    if count == work.total:
        work.book(replicas=None, stable_replicas=None)
    else:
        work.book(replicas=work.total, stable_replicas=count)
    work.replicas = count if count != ctx.d.replicas else None


def give_back(ctx: Ctx, work: Work) -> None:
    """The release is over for the stable pods: the full count back (and nothing held)."""
    ask_stable(ctx, work, work.total)
    work.book(replicas_held=False)
