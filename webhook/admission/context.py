"""One managed Deployment's CREATE or UPDATE being decided: the rules of DESIGN §2.

CREATE stamps the template's hash label. UPDATE tells what changed: the same template (undo
what would restart pods or lose the release), adoption (leave the template alone), the stable
revision back (a revert: unpause), or a new revision (hold it: pause, record the canary hash in
the status, let the reconciler release it). The status a writer may not change is guarded
(``statusguard``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.admission import statusguard
from webhook.admission.outcome import Decision, Outcome, deny
from webhook.admission.patch import Op, set_nested
from webhook.admission.policygate import Finding, forging_status, unpausing
from webhook.admission.policyreview import PolicyReview
from webhook.admission.readers import label_of, obj_map, template_of
from webhook.admission.review import JSONObject, ReviewRequest, ReviewResponse
from webhook.errors import Problem
from webhook.policy import promote_full_refusal
from webhook.spec import names as n
from webhook.spec.canary import Action, ParsedSpec
from webhook.spec.hashing import canonical_form, form_hash, template_hash
from webhook.spec.status import Phase, ReleaseStatus

TEMPLATE_LABELS = ("spec", "template", "metadata", "labels")
ANNOTATIONS = ("metadata", "annotations")
HELD_MESSAGE = "held for canary steps"
PROMOTE_FULL_RULE = "rules.allowPromoteFull"


class Context:
    """One opted-in, valid Deployment CREATE or UPDATE being decided."""

    def __init__(
        self,
        req: ReviewRequest,
        obj: JSONObject,
        annotations: Mapping[str, Any],
        parsed: ParsedSpec,
        ref: str,
        namespace: str,
        name: str,
        gate: PolicyReview,
    ) -> None:
        self.req = req
        self.gate = gate
        self.obj = obj
        self.annotations = annotations
        self.parsed = parsed
        self.ref = ref
        self.namespace = namespace
        self.name = name
        self.spec = obj_map(obj, "spec", "request.object") or {}
        self.template = template_of(self.spec, "request.object.spec")
        self.ops: list[Op] = []
        self.warnings: list[str] = list(parsed.warnings)
        self.status_text: str | None = None  # the status annotation to write, if any
        self.guarded = False  # the writer's status change is undone (statusguard)
        self.untrusted = False  # the writer is not the reconciler (--trusted-user is set)
        self.old_status: Any = None  # the status before this write (when guarded)

    def done(self, reason: str) -> Decision:
        written = self.annotations.get(n.STATUS)
        enforcing = self.gate.enforcing
        if enforcing is not None and self.untrusted and written != self.old_status and (
            written is None or written != self.status_text
        ):
            # a writer's status change (not the webhook's own, from an earlier call)
            self.gate.add(forging_status(enforcing, written is None))
        elif self.guarded and written is not None and written != self.old_status:
            self.warnings.append(statusguard.warning(self.req, self.ref))
        denial = self.gate.finish(self.ops, self.obj, self.warnings)
        if denial is not None:
            return deny(self.req, denial)
        if self.status_text is not None and self.status_text != written:
            set_nested(self.ops, self.obj, ANNOTATIONS, n.STATUS, self.status_text)
        elif self.status_text is None and self.guarded:
            statusguard.restore(self.ops, self.obj, self.annotations, self.old_status)
        response = ReviewResponse(
            self.req.uid, patch=tuple(self.ops), warnings=tuple(self.warnings)
        )
        return Decision(response, Outcome.MUTATED if self.ops else Outcome.ALLOWED, reason)

    # --- the two operations ----------------------------------------------------------------

    def create(self) -> Decision:
        self.stamp(template_hash(self.template))
        return self.done("create")

    def update(self) -> Decision:
        old = self.req.old_object or {}
        old_meta = obj_map(old, "metadata", "request.oldObject") or {}
        old_labels = obj_map(old_meta, "labels", "request.oldObject.metadata") or {}
        old_ann = obj_map(old_meta, "annotations", "request.oldObject.metadata") or {}
        old_spec = obj_map(old, "spec", "request.oldObject") or {}
        old_template = template_of(old_spec, "request.oldObject.spec")
        del old_labels  # (managed or not: the gate read them with the policies)
        adopting = self.gate.old is None or not self.gate.old.managed
        status = self.status(old_ann, adopting)
        new_hash, old_hash = self.hashes(old_template, status)
        if new_hash == old_hash:
            if adopting:
                # Stamping the hash label now would restart every pod: leave the template alone
                # and let the first release select the running pods by pod-template-hash.
                self.warnings.append(
                    f"canarist: {self.ref} adopted; its next template change is released "
                    f"step by step"
                )
                return self.done("adopt")
            return self.unchanged(old_template, status)
        stable = status.stable_hash or old_hash or ""
        if new_hash == stable:
            # DESIGN §2: a template equal to the stable revision unpauses. Mid-release this is a
            # revert; otherwise (a status edited by hand) pausing a "canary" equal to the stable
            # revision would leave the Deployment paused with nothing to release.
            return self.revert(new_hash, status)
        return self.hold(new_hash, stable, status)

    # --- UPDATE cases ----------------------------------------------------------------------

    def unchanged(self, old_template: Mapping[str, Any] | None, status: ReleaseStatus) -> Decision:
        """Same template: no patch, but undo what would restart pods or lose the release."""
        old_value = label_of(old_template, n.HASH_LABEL)
        if old_value and label_of(self.template, n.HASH_LABEL) != old_value:
            self.stamp(old_value)
        if (
            status.in_release
            and status.phase is not Phase.PROMOTING
            and self.spec.get("paused") is not True
        ):
            # Only the reconciler unpauses mid-release, and it writes phase Promoting in the
            # same update; anyone else's unpause would roll the canary to every pod.
            self.set_paused(True)
            self.unpaused()
        return self.done("unchanged")

    def unpaused(self) -> None:
        """A writer's unpause of a held release: kept paused with a warning; refused under an
        enforcing policy; an exempt writer's becomes ``promote-full`` (the canary, promoted
        once fully available: never a rollout around it)."""
        enforcing = self.gate.enforcing
        if enforcing is None:
            self.warnings.append(
                f"canarist: {self.ref} stays paused while its release runs; follow it with: "
                f"canarist status {self.name} -n {self.namespace}"
            )
            return
        self.gate.add(unpausing(enforcing, f"{self.name} -n {self.namespace}"))
        if self.gate.exempt:
            why = promote_full_refusal(enforcing)
            if why:
                self.gate.add([Finding(Problem(n.ACTION, why), PROMOTE_FULL_RULE, enforcing)])
            set_nested(self.ops, self.obj, ANNOTATIONS, n.ACTION, Action.PROMOTE_FULL.value)
            self.warnings.append(
                f"canarist: the unpause of {self.ref} by {self.req.user or 'an unnamed user'} "
                f"(exempt from policy {enforcing.name}) is a promote-full: the remaining steps "
                f"are skipped, the canary is promoted once fully available"
            )

    def revert(self, new_hash: str, status: ReleaseStatus) -> Decision:
        """The template is back to the stable revision: no new pods, the canary goes away."""
        self.stamp(new_hash)
        self.set_paused(False)
        self.write_status(
            status.with_(
                canary_hash=new_hash,
                phase=Phase.PROGRESSING,
                message=(
                    f"template returned to the stable revision {new_hash}; "
                    f"the canary is being removed"
                ),
            )
        )
        self.warnings.append(
            f"canarist: {self.ref} returned to the stable revision ({new_hash}); "
            f"the canary is being removed"
        )
        return self.done("revert")

    def hold(self, new_hash: str, stable: str, status: ReleaseStatus) -> Decision:
        """A new canary revision (also mid-release): pause and let the reconciler release it."""
        self.stamp(new_hash)
        self.set_paused(True)
        self.write_status(
            status.with_(
                stable_hash=stable,
                canary_hash=new_hash,
                phase=Phase.PROGRESSING,
                step=0,
                steps=len(self.parsed.spec.steps),
                message=HELD_MESSAGE,
                step_started_at=None,
                started_at=None,
                aborted_at=None,
            )
        )
        self.warnings.append(
            f"canarist: release of {self.ref} held for canary steps (stable {stable}, "
            f"canary {new_hash}); follow it with: canarist status {self.name} -n {self.namespace}"
        )
        return self.done("canary")

    # --- helpers ---------------------------------------------------------------------------

    def hashes(
        self, old_template: JSONObject | None, status: ReleaseStatus
    ) -> tuple[str, str | None]:
        """The new and old templates' hashes, each computed only if the decision needs it.

        Equal maps hash equally: no hashing at all. Otherwise the new hash is always needed. The
        old one is needed as the stable hash when the status has none, or to tell an unchanged
        template: when both canonical forms (what the hash is computed from) differ, the hashes
        differ, and ``None`` stands for "not the new hash" without hashing the old template.
        """
        if self.template == old_template:
            return "", ""
        new_form = canonical_form(self.template)
        old_form = canonical_form(old_template)
        old_hash = form_hash(old_form) if old_form == new_form or not status.stable_hash else None
        return form_hash(new_form), old_hash

    def status(self, old_ann: Mapping[str, Any], adopting: bool) -> ReleaseStatus:
        """The release status this update should be judged by.

        A status on a Deployment that was not opted in is stale (left from an earlier opt-in)
        and ignored. An update that drops the status annotation (``kubectl apply`` of a manifest
        without it, a replace) gets it back: it is canarist's record of the release.
        """
        old_text = old_ann.get(n.STATUS)
        self.old_status = old_text
        if adopting:
            return ReleaseStatus()
        text = self.annotations.get(n.STATUS)
        if text is None and isinstance(old_text, str):
            self.status_text = text = old_text
        elif self.guarded:
            text = old_text  # only canarist's own writes count; done() undoes the change
        return ReleaseStatus.from_json(text) if isinstance(text, str) else ReleaseStatus()

    def stamp(self, value: str) -> None:
        if self.template is None or label_of(self.template, n.HASH_LABEL) == value:
            return
        set_nested(self.ops, self.obj, TEMPLATE_LABELS, n.HASH_LABEL, value)

    def set_paused(self, paused: bool) -> None:
        if self.spec.get("paused", False) is not paused:
            set_nested(self.ops, self.obj, ("spec",), "paused", paused)

    def write_status(self, status: ReleaseStatus) -> None:
        self.status_text = status.to_json()
