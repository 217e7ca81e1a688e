"""What the CLI controls show and decide, as pure functions of the Deployment's JSON.

``ReleaseView.of(deployment)`` reads the opt-in label, ``canarist.io/status`` (leniently; the
reconciler books there the cluster policy governing the Deployment) and a pending
``canarist.io/action``. A Deployment is managed when labelled, or when a policy adopted it (its
status names the policy; the reconciler removes the status when it stops managing it).
``refusal(view, action, policy)`` says why an action makes no sense now (empty when it does): the
same rules the reconciler applies when it consumes the action, a policy's
``rules.allowPromoteFull`` included, checked before writing so a script gets a clear error and
exit code instead of a Warning Event later.
``status_text``, ``progress_line`` and ``table`` render it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.policy import ClusterPolicy, promote_full_refusal
from webhook.spec import Action, Phase, ReleaseStatus
from webhook.spec.names import ACTION, ENABLED_LABEL, HASH_LABEL, STATUS

ENDED = (Phase.HEALTHY, Phase.DEGRADED)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ReleaseView:
    namespace: str
    name: str
    managed: bool
    status: ReleaseStatus
    template_hash: str
    pending_action: str
    resource_version: str

    @classmethod
    def of(cls, deployment: Mapping[str, Any]) -> ReleaseView:
        meta = _map(deployment.get("metadata"))
        labels, ann = _map(meta.get("labels")), _map(meta.get("annotations"))
        tpl_labels = _map(_map(_map(_map(deployment.get("spec")).get("template")).get(
            "metadata")).get("labels"))
        raw = ann.get(STATUS)
        status = ReleaseStatus.from_json(raw if isinstance(raw, str) else None)
        adopted = isinstance(raw, str) and bool(status.extra.get("policy"))
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            managed=labels.get(ENABLED_LABEL) == "true" or adopted,
            status=status,
            template_hash=str(tpl_labels.get(HASH_LABEL, "")),
            pending_action=str(ann.get(ACTION, "")),
            resource_version=str(meta.get("resourceVersion", "")),
        )

    @property
    def policy(self) -> str:
        """The cluster policy governing the Deployment, as the reconciler booked it."""
        value = self.status.extra.get("policy")
        return value if isinstance(value, str) else ""

    @property
    def in_release(self) -> bool:
        s = self.status
        held = bool(self.template_hash and s.stable_hash and self.template_hash != s.stable_hash)
        return s.in_release or held

    @property
    def aborted(self) -> bool:
        return self.status.aborted_at is not None or self.status.phase == Phase.DEGRADED

    @property
    def user_paused(self) -> bool:
        return self.status.extra.get("userPaused") is True

    @property
    def phase(self) -> str:
        return self.status.phase.value if self.status.phase else "Unknown"

    @property
    def step(self) -> str:
        n = self.status.steps
        if n <= 0:
            return "-"
        return f"{min(self.status.step + 1, n) if self.in_release else n}/{n}"

    @property
    def ended(self) -> bool:
        """The release is over: promoted (Healthy, nothing held) or aborted (Degraded)."""
        if self.status.phase == Phase.DEGRADED:
            return True
        return self.status.phase == Phase.HEALTHY and not self.in_release

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "managed": self.managed,
            "policy": self.policy or None,
            "inRelease": self.in_release,
            "pendingAction": self.pending_action or None,
            "status": self.status.to_dict(),
        }


def refusal(view: ReleaseView, action: Action, policy: ClusterPolicy | None = None) -> str:
    """Why ``action`` cannot be asked for now (under ``policy``); empty when it can."""
    if not view.managed:
        return (f"Deployment {view.namespace}/{view.name} is not managed by canarist "
                f"(label {ENABLED_LABEL}=true is missing, and no cluster policy adopted it)")
    verb = "promote --full" if action is Action.PROMOTE_FULL else action.value
    if not view.in_release:
        return f"no release in progress (phase {view.phase}): nothing to {verb}"
    if view.status.phase == Phase.PROMOTING:
        return "the promotion is under way; revert the template to roll back"
    if action is Action.RETRY:
        return "" if view.aborted else "the release is not aborted: nothing to retry"
    if action is Action.PROMOTE_FULL:
        return promote_full_refusal(policy)
    if view.aborted:
        also = "" if promote_full_refusal(policy) else ", or promote --full"
        return f"the release is aborted; retry it{also}"
    if action is Action.PROMOTE and view.status.step >= view.status.steps > 0:
        return "every step is done; the promotion waits for the canary to be fully available"
    if action is Action.RESUME and not view.user_paused:
        return "the release is not paused (promote skips a pause step)"
    if action is Action.PAUSE and view.user_paused:
        return "the release is already paused"
    return ""


def status_text(view: ReleaseView) -> str:
    s = view.status
    rows = [
        ("Deployment", f"{view.namespace}/{view.name}"),
        ("Policy", view.policy or "-"),
        ("Phase", view.phase + (" (paused by user)" if view.user_paused else "")),
        ("Step", view.step),
        ("Weight", f"{s.weight}% canary, {100 - s.weight}% stable"),
        ("Stable", s.stable_hash or "-"),
        ("Canary", s.canary_hash if view.in_release and s.canary_hash else "-"),
    ]
    if s.header_routes:
        rows.append(("Header routes", ", ".join(s.header_routes)))
    if s.mirror:
        rows.append(("Mirror", s.mirror))
    if view.pending_action:
        rows.append(("Pending action", view.pending_action))
    if s.message:
        rows.append(("Message", s.message))
    width = max(len(k) for k, _ in rows) + 2
    return "".join(f"{k + ':':<{width}}{v}\n" for k, v in rows)


def bar(weight: int, width: int = 20) -> str:
    filled = max(0, min(width, round(width * weight / 100)))
    return "#" * filled + "." * (width - filled)


def progress_line(view: ReleaseView, *, width: int = 20) -> str:
    s = view.status
    canary = s.canary_hash if view.in_release and s.canary_hash else "-"
    line = (f"[{bar(s.weight, width)}] {s.weight:>3}%  step {view.step}  {view.phase}"
            f"  canary {canary}  stable {s.stable_hash or '-'}")
    if view.user_paused:
        line += "  (paused by user)"
    if s.message:
        line += f"  {s.message}"
    return line


def table(views: Sequence[ReleaseView], *, all_namespaces: bool) -> str:
    head = ["NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "POLICY"]
    if all_namespaces:
        head.insert(0, "NAMESPACE")
    rows = [head]
    for v in views:
        row = [v.name, v.phase + ("*" if v.user_paused else ""), v.step, f"{v.status.weight}%",
               v.status.stable_hash or "-",
               v.status.canary_hash if v.in_release and v.status.canary_hash else "-",
               v.policy or "-"]
        if all_namespaces:
            row.insert(0, v.namespace)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                   + "\n" for r in rows)


def as_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
