"""Promotion hands the canary's ReplicaSet over to the user's Deployment (DESIGN §8b).

The canary Deployment runs exactly the user's new pod template (``webhook.release.canary``), so
its ReplicaSet is one the user's Deployment would take as its *new* ReplicaSet: upstream's
``FindNewReplicaSet`` picks the oldest owned ReplicaSet whose template equals the Deployment's
with the ``pod-template-hash`` label ignored (``EqualIgnoreHash``), and ``ClaimReplicaSets``
adopts an orphaned ReplicaSet whose labels the Deployment's selector matches. So once the canary
runs the full count and carries all traffic, canarist deletes the canary Deployment with
``propagationPolicy: Orphan`` (the garbage collector takes its ownerReference off the ReplicaSet;
the pods stay), the user's Deployment adopts the ReplicaSet and, finding it saturated
(``IsSaturated``: its count, its ``desired-replicas`` and its available pods all equal
``spec.replicas``), scales the old ReplicaSets to 0 even while paused; unpausing then finds
nothing to roll out. No pod is created; the pods that passed the canary steps keep serving.

What is decided here (pure, tested with tables in ``tests/release/test_handover.py``):

- ``check``: the hand-over can start now (``go``), not yet (``wait``: what it waits for), or
  not for this promotion (a fallback: the Deployment is unpaused and rolls out the template
  itself, as before, with the reason in an Event). Every condition is one of upstream's
  (docs/release.md, "How the hand-over is proven safe").
- ``start``: the stable Service on the new pods, the status (the handed-over revision already
  the stable one, the ReplicaSet's name booked), then the orphaning — in that order, so a
  reconciler that dies anywhere finds either nothing done or the hand-over booked.
- ``same_template``: ``EqualIgnoreHash`` over JSON (empty values dropped, as ``Semantic`` does).

The moves after ``start`` (wait for the adoption, unpause, finish) are ``ending.handing_over``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.release.draft import Ctx, Draft, Work
from webhook.release.labels import selects
from webhook.release.model import ReplicaSetView, World
from webhook.release.names import HASH_LABEL, POD_TEMPLATE_HASH
from webhook.release.ops import OrphanCanary
from webhook.release.services import Pin, find_stable, pin_patch, pins_services
from webhook.release.timefmt import after, fmt, parse, seconds_until
from webhook.spec import Phase
from webhook.spec.hashing import canonical_form, without_label


@dataclass(frozen=True)
class Check:
    """``go`` with the ReplicaSet to hand over; else ``reason``: what it waits for
    (``wait``), or why this promotion rolls out instead (``warn``: something the user may want
    to fix, reported as a Warning)."""

    rs: ReplicaSetView | None = None
    reason: str = ""
    wait: bool = False
    warn: bool = False

    @property
    def go(self) -> bool:
        return self.rs is not None


def _fallback(reason: str, *, warn: bool = True) -> Check:
    return Check(reason=reason, warn=warn)


def _wait(reason: str) -> Check:
    return Check(reason=reason, wait=True)


def _labels(template: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = template.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """``EqualIgnoreHash``: the pod templates are equal once ``pod-template-hash`` is removed
    from both (null, empty maps and empty lists equal to absent, as ``apiequality.Semantic``).
    Stricter than upstream only where JSON cannot tell a Go zero value from an absent field
    (``false``, ``0``, ``""``), which never differs between the canary and the Deployment."""
    if _labels(a).get(HASH_LABEL) != _labels(b).get(HASH_LABEL):
        return False
    strip_a = without_label(a, POD_TEMPLATE_HASH)
    strip_b = without_label(b, POD_TEMPLATE_HASH)
    return canonical_form(strip_a) == canonical_form(strip_b)


def check(ctx: Ctx, work: Work) -> Check:
    """Can the canary's ReplicaSet be handed over now? Called once all traffic is on a fully
    available canary, after ``spec.replicas`` was given its full count back."""
    world, d, total = ctx.world, ctx.d, work.total
    if not world.handover:
        return _fallback("the hand-over is turned off (canarist reconcile --promotion rollout)",
                         warn=False)
    if not ctx.routed:
        return _fallback(
            "with router none the stable pods are part of the weight, so the Deployment's count "
            "is below the canary's until it rolls out", warn=False)
    if total == 0:
        return _fallback("the Deployment runs no pods", warn=False)
    canary = world.canary
    if canary is None or not canary.owned or canary.hash != d.hash or canary.deleting:
        return _wait("the canary Deployment")
    if not same_template(canary.template, d.template):
        return _fallback(f"the pod template of {canary.name} differs from {d.name}'s (was the "
                         "template changed without canarist's admission webhook?)")
    own = [rs for rs in world.canary_replica_sets if rs.controller == canary.uid]
    if not own:
        return _wait(f"the ReplicaSet of {canary.name}")
    if len(own) > 1:
        names = ", ".join(sorted(rs.name for rs in own))
        return _fallback(f"{canary.name} has several ReplicaSets ({names})")
    rs = own[0]
    problem = _unsafe(ctx, rs)
    if problem:
        return _fallback(problem)
    if d.replicas != total or d.observed_generation < d.generation:
        # (one message for both: the plan that writes the count does not see it observed)
        return _wait(f"{d.name} back to {total} replicas first")
    if rs.replicas != total or rs.desired != total or rs.available < total:
        return _wait(f"ReplicaSet {rs.name} at {total} available pods "
                     f"({rs.available}/{rs.replicas})")
    return Check(rs=rs)


def _unsafe(ctx: Ctx, rs: ReplicaSetView) -> str:
    """Why the user's Deployment would not take ``rs`` as its new ReplicaSet (or another one
    might take it), or ``""``."""
    d, world = ctx.d, ctx.world
    if rs.deleting:
        return f"ReplicaSet {rs.name} is being deleted (ClaimReplicaSets does not adopt it)"
    if not same_template(rs.template, d.template):
        return f"ReplicaSet {rs.name} does not run {d.name}'s pod template"
    if not selects(d.selector, rs.labels):
        return f"{d.name}'s selector does not match the labels of ReplicaSet {rs.name}"
    taken = [r.name for r in world.replica_sets if same_template(r.template, d.template)]
    if taken:
        return (f"{d.name} already has ReplicaSet {taken[0]} of this template, which "
                "FindNewReplicaSet would take instead (it is older)")
    if world.selecting:
        return (f"Deployment {world.selecting[0]} also selects the pods of ReplicaSet "
                f"{rs.name} and could adopt it")
    return ""


def switch_stable_service(ctx: Ctx, draft: Draft) -> None:
    """The stable Service selects the new revision's pods (with routers that pin it): from the
    promotion on, no Service selects the pods about to be removed."""
    spec, d = ctx.spec, ctx.d
    if not pins_services(spec):
        return
    choice = find_stable(ctx.world, spec.stable_service, spec.canary_service)
    if choice.service is None:
        return
    patch = pin_patch(choice.service, Pin(HASH_LABEL, d.hash), d.name)
    if patch:
        draft.add(patch)
        draft.event("ServiceSwitched", f"Service {choice.service.name} now selects {d.hash}")


def old_pods_stay(ctx: Ctx, work: Work, draft: Draft) -> bool:
    """Argo Rollouts' ``scaleDownDelaySeconds``: the old pods stay ``scale-down-delay`` after the
    stable Service selects the new ones, so that what follows the Service (kube-proxy, load
    balancers) has caught up before they go — and the adoption removes them, so the orphaning
    waits. Switches the stable Service; ``True`` while the delay runs."""
    switch_stable_service(ctx, draft)
    deadline = parse(work.books.scale_down_at)
    if deadline is None:
        work.book(scale_down_at=after(ctx.now, ctx.spec.scale_down_delay))
        deadline = parse(work.books.scale_down_at)
        assert deadline is not None
    if ctx.now >= deadline:
        return False
    work.set(
        phase=Phase.PROGRESSING,
        message=f"promoting: the stable Service selects {ctx.d.hash}; the old pods stay until "
        f"{fmt(deadline)} (scale-down-delay)",
    )
    draft.wake(seconds_until(deadline, ctx.now))
    return True


def start(ctx: Ctx, work: Work, draft: Draft, rs: ReplicaSetView) -> None:
    """Book the hand-over (the status is the plan's last write) and orphan the canary after it:
    from the status write on, the handed-over revision is the stable one, so a template applied
    meanwhile is held as a release over it. The stable Service was switched by
    ``old_pods_stay``."""
    d, canary = ctx.d, ctx.world.canary
    assert canary is not None
    work.set(
        phase=Phase.PROMOTING,
        stable_hash=d.hash,
        canary_hash=d.hash,
        message=f"promoting: handing ReplicaSet {rs.name} over to {d.name}",
    )
    work.book(handover=rs.name, scale_down_at=None)
    draft.add_later(OrphanCanary(canary.name, canary.uid))
    draft.event(
        "Promoting",
        f"all traffic on the canary; handing its ReplicaSet {rs.name} over to {d.name}",
    )


def candidates(world: World) -> bool:
    """The canary has ReplicaSets a promotion may hand over: the loop then looks for other
    Deployments that select their pods (whatever the step: a ``promote-full`` can reach weight
    100 and start the hand-over in one plan)."""
    return world.spec is not None and world.canary is not None and bool(
        world.canary_replica_sets
    )
