"""Which actions a release allows now, and what each would do (a pure function, table-tested).

The rules are the CLI's (``webhook.kube.display.refusal``, the same the reconciler applies when
it consumes an action), so a button is never offered that ``canarist promote`` would refuse; the
reason is shown beside a disabled button and in the answer to a refused request. ``effect`` is
the sentence the confirmation dialog shows: what will happen, with the release's own steps,
hashes and counts. A cluster policy may still refuse an allowed action: the API server's answer
says why, and the page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.kube.display import ReleaseView, refusal
from webhook.spec import Action, Step
from webhook.spec.steps import describe_step

UNDO = "undo"
ACTIONS: tuple[str, ...] = (*(a.value for a in Action), UNDO)
LABELS = {
    "promote": "Promote",
    "promote-full": "Promote Full",
    "abort": "Abort",
    "retry": "Retry",
    "pause": "Pause",
    "resume": "Resume",
    UNDO: "Undo",
}
READ_ONLY = "the dashboard is read-only (--read-only)"


@dataclass(frozen=True)
class Verdict:
    action: str
    allowed: bool
    reason: str  # why not ("" when allowed)
    effect: str  # what it does

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "label": LABELS[self.action], "allowed": self.allowed,
                "reason": self.reason, "effect": self.effect}


def _step(steps: tuple[Step, ...] | None, i: int) -> str:
    if steps is None or not 0 <= i < len(steps):
        return ""
    return f" ({describe_step(steps[i])})"


def effect(view: ReleaseView, action: str, steps: tuple[Step, ...] | None,
           replicas: int) -> str:
    s = view.status
    n, i = s.steps, min(s.step, s.steps)
    here = f"step {i + 1}/{n}{_step(steps, i)}" if n else "the current step"
    canary, stable = s.canary_hash or "the new revision", s.stable_hash or "the stable revision"
    if action == Action.PROMOTE:
        if i + 1 >= n:
            after = ("every step is then done: the canary is scaled to full capacity, takes "
                     "all traffic and becomes the stable revision")
        else:
            after = f"the release goes on with step {i + 2}/{n}{_step(steps, i + 1)}"
        return f"Skips {here}; {after}."
    if action == Action.PROMOTE_FULL:
        return (f"Skips every remaining step: the canary {canary} is scaled to {replicas} "
                "pods, then takes 100% of the traffic and becomes the stable revision.")
    if action == Action.ABORT:
        return (f"Sends all traffic back to the stable revision {stable} at once and scales the "
                f"canary {canary} away. The release stops (Degraded) until it is retried or the "
                "template is reverted.")
    if action == Action.RETRY:
        return f"Starts the release of {canary} again from step 1."
    if action == Action.PAUSE:
        return (f"Holds the release at {here}: no step advances until Resume "
                "(a timed pause keeps counting).")
    if action == Action.RESUME:
        return f"Lets the release continue from {here}."
    if view.in_release:
        return (f"Rolls back to the stable revision {stable}: the Deployment's template goes "
                f"back, no step runs, and the canary {canary} is removed.")
    return ("Releases the previous revision of the Deployment (its ReplicaSet history) through "
            "the canary steps.")


def undo_refusal(view: ReleaseView) -> str:
    """Undo is decided on fresh reads when asked (``webhook.kube.undo.plan_undo``: which
    revision, or why none); here only what the cache already tells."""
    if not view.managed:
        return refusal(view, Action.PROMOTE)  # "not managed by canarist (label ...)"
    return ""


def verdicts(view: ReleaseView, steps: tuple[Step, ...] | None, *, replicas: int,
             read_only: bool) -> list[Verdict]:
    """One ``Verdict`` per action, in the order of the buttons."""
    out = []
    for action in ACTIONS:
        if read_only:
            why = READ_ONLY
        elif action == UNDO:
            why = undo_refusal(view)
        else:
            why = refusal(view, Action(action))
        out.append(Verdict(action, not why, why, effect(view, action, steps, replicas)))
    return out
