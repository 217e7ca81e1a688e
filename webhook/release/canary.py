"""The canary Deployment ``<name>-canary``, built from the user's Deployment.

- the new pod template (stamped with ``rollouts-pod-template-hash: <canary hash>``);
- the user's selector narrowed by the canary hash, so its ReplicaSets never overlap the user's;
- an ownerReference to the user's Deployment (deleting it deletes the canary);
- the user's labels **without** the opt-in label (the canary is never released itself), plus
  ``canarist.io/canary-of: <name>``;
- never paused; replicas as the step asks.

Also the canary as a release sees it (``Canary``: pods of the revision being released) and the
operations that create, replace and scale it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from webhook.release.draft import Ctx, Draft, Work
from webhook.release.model import CanaryView, DeploymentView
from webhook.release.names import CANARY_OF_LABEL, ENABLED_LABEL, HASH_LABEL, MANAGED_BY_ANNOTATION
from webhook.release.ops import CreateCanary, DeleteCanary, ScaleCanary
from webhook.routers.base import Owner

# Spec fields of the user's Deployment the canary keeps; everything else is canarist's.
_KEPT_SPEC = ("strategy", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds")


def canary_body(d: DeploymentView, replicas: int) -> dict[str, Any]:
    template = copy.deepcopy(dict(d.template))
    meta = template.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels[HASH_LABEL] = d.hash
    selector = copy.deepcopy(dict(d.selector))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = d.hash
    spec: dict[str, Any] = {
        k: copy.deepcopy(d.raw["spec"][k]) for k in _KEPT_SPEC if k in d.raw.get("spec", {})
    }
    spec.update({"replicas": replicas, "selector": selector, "template": template})
    user_labels = {k: v for k, v in d.labels.items() if k != ENABLED_LABEL}
    user_labels[CANARY_OF_LABEL] = d.name
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": d.canary_name,
            "namespace": d.namespace,
            "labels": user_labels,
            "annotations": {MANAGED_BY_ANNOTATION: d.name},
            "ownerReferences": [Owner(d.name, d.uid).reference()],
        },
        "spec": spec,
    }


@dataclass(frozen=True)
class Canary:
    """The canary as this release sees it: pods of *this* revision only."""

    view: CanaryView | None
    current: bool  # exists, owned, and runs the revision being released

    @property
    def available(self) -> int:
        return self.view.available if self.current and self.view else 0

    @property
    def replicas(self) -> int:
        return self.view.replicas if self.current and self.view else 0

    @property
    def serving(self) -> int:
        """Available pods of whatever revision the canary Deployment runs."""
        return self.view.available if self.view and self.view.owned else 0

    def has(self, count: int) -> bool:
        """``count`` pods of this revision are available (the plan sizes the canary to at least
        the count a step needs, so the pods available now stay)."""
        return self.available >= count


def current_canary(ctx: Ctx) -> Canary:
    view = ctx.world.canary
    current = view is not None and view.owned and view.hash == ctx.d.hash
    return Canary(view, current)


def canary_ops(
    ctx: Ctx, work: Work, draft: Draft, canary: Canary, count: int, *, later: bool = False
) -> None:
    """Create, replace or scale the canary Deployment to ``count`` pods (with ``later``, new
    pods wait for the plan's write of the stable pods' count)."""
    d, view = ctx.d, canary.view
    if view is not None and view.owned and view.deleting:
        # being deleted (a hand-over's orphaning: its ReplicaSet may be the stable pods now):
        # never deleted again — another propagation policy would take the ``orphan`` finalizer
        # off and its pods with it — and the name is free only once it is gone
        return
    if view is not None and view.owned and not canary.current:
        if work.status.weight > 0:
            return  # traffic still goes to the old revision's pods: wait until it has left
        draft.add(DeleteCanary(view.name))
        view = None
    if view is None:
        (draft.add_later if later and count else draft.add)(CreateCanary(canary_body(d, count)))
        draft.event("CanaryCreated", f"canary Deployment {d.canary_name} created with {count} pods")
    elif view.replicas != count:
        grows = later and count > view.replicas
        (draft.add_later if grows else draft.add)(ScaleCanary(view.name, count))
