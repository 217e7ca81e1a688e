"""The mutation: a pure function from an AdmissionReview request to its response.

It runs on every write of an opted-in Deployment, so it parses the review once, hashes the new
pod template once (not at all when the two templates are equal), the old one only when the
decision needs it (``_Context.hashes``), and caches the parsed canary spec by the annotation
values it depends on. The rules are those of DESIGN §2; the
decisions that are not obvious from it are spelled out next to the code that makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.admission import statusguard
from webhook.admission.patch import Op, set_nested
from webhook.admission.review import (
    JSONObject,
    ReviewRequest,
    ReviewResponse,
    Status,
    bad_review,
    parse_review,
    too_deep,
)
from webhook.admission.speccache import SpecCache, SpecLookup, parsing, relevant
from webhook.spec import names as n
from webhook.spec.canary import ParsedSpec
from webhook.spec.hashing import canonical_form, form_hash, template_hash
from webhook.spec.problems import json_type
from webhook.spec.status import Phase, ReleaseStatus

TEMPLATE_LABELS = ("spec", "template", "metadata", "labels")
ANNOTATIONS = ("metadata", "annotations")
HELD_MESSAGE = "held for canary steps"


class Outcome:
    """How a review ended, as counted in the metrics and logs."""

    ALLOWED = "allowed"  # allowed, nothing changed
    MUTATED = "mutated"  # allowed with a patch
    DENIED = "denied"  # refused: invalid canary annotations


@dataclass(frozen=True)
class Decision:
    response: ReviewResponse
    outcome: str
    reason: str  # a short word for logs: "create", "canary", "revert", "adopt", ...


DEFAULT_CACHE = SpecCache()  # the specs of ``review`` and ``decide`` called without a lookup
_DEFAULT_LOOKUP = parsing(DEFAULT_CACHE)
MAX_DEPTH = 100  # a template nested deeper is refused (no pod template comes near)


def review(
    body: bytes | str | JSONObject,
    specs: SpecLookup | None = None,
    *,
    trusted: frozenset[str] | None = None,
) -> Decision:
    """Parse an AdmissionReview and decide; ``BadReview`` for an unusable body."""
    return decide(parse_review(body), specs, trusted=trusted)


def decide(
    req: ReviewRequest, specs: SpecLookup | None = None, *, trusted: frozenset[str] | None = None
) -> Decision:
    """The decision on one review. ``specs`` finds the parsed canary spec of the annotations
    (default: parse, with a shared bounded cache); it may raise ``NeedsParse``. ``trusted``:
    the users who may change ``canarist.io/status`` (``None``: anyone; see ``statusguard``)."""
    try:
        return _decide(req, specs or _DEFAULT_LOOKUP, trusted)
    except RecursionError:
        path = too_deep(req.object, "request.object", MAX_DEPTH) or too_deep(
            req.old_object, "request.oldObject", MAX_DEPTH
        )
        return deny(req, f"{path or 'request.object'}: nested more than {MAX_DEPTH} levels deep")


_REASONS = {422: "Invalid", 500: "InternalError", 503: "ServiceUnavailable"}


def deny(req: ReviewRequest, message: str, code: int = 422) -> Decision:
    status = Status(code=code, reason=_REASONS.get(code, "Invalid"), message=message)
    return Decision(ReviewResponse(req.uid, allowed=False, status=status), Outcome.DENIED, "")


def _decide(req: ReviewRequest, specs: SpecLookup, trusted: frozenset[str] | None) -> Decision:
    if _is_deployment(req) and req.operation == "UPDATE" and req.sub_resource == "status":
        return _status_write(req, specs, trusted)
    if not _applies(req):
        return _allow(req, "ignored")
    obj = req.object or {}
    meta = _map(obj, "metadata", "request.object") or {}
    labels = _map(meta, "labels", "request.object.metadata") or {}
    if labels.get(n.ENABLED_LABEL) != "true":
        return _allow(req, "not-opted-in")
    annotations = _map(meta, "annotations", "request.object.metadata") or {}
    name = _text(meta.get("name")) or req.name or _text(meta.get("generateName"))
    parsed = specs(annotations, name)
    if isinstance(parsed, str):
        return deny(req, parsed)
    namespace = req.namespace or _text(meta.get("namespace")) or "default"
    ctx = _Context(req, obj, annotations, parsed, f"{namespace}/{name}", namespace, name)
    ctx.guarded = statusguard.untrusted(req, trusted)
    if req.operation == "CREATE":
        return ctx.create()
    return ctx.update()


def _is_deployment(req: ReviewRequest) -> bool:
    return (
        req.kind.group == "apps"
        and req.kind.version == "v1"
        and req.kind.kind == "Deployment"
        and req.resource.resource == "deployments"
    )


def _applies(req: ReviewRequest) -> bool:
    return req.operation in ("CREATE", "UPDATE") and not req.sub_resource and _is_deployment(req)


def _status_write(
    req: ReviewRequest, specs: SpecLookup, trusted: frozenset[str] | None
) -> Decision:
    """An UPDATE through ``deployments/status``: it cannot change the spec or the labels, but
    it keeps annotation changes, so the status is guarded and changed canary annotations are
    validated as on the Deployment itself."""
    obj, old = req.object or {}, req.old_object or {}
    meta = _map(obj, "metadata", "request.object") or {}
    old_meta = _map(old, "metadata", "request.oldObject") or {}
    annotations = _map(meta, "annotations", "request.object.metadata") or {}
    old_ann = _map(old_meta, "annotations", "request.oldObject.metadata") or {}
    labels = _map(meta, "labels", "request.object.metadata") or {}
    name = _text(meta.get("name")) or req.name
    if labels.get(n.ENABLED_LABEL) == "true" and relevant(annotations) != relevant(old_ann):
        parsed = specs(annotations, name)
        if isinstance(parsed, str):
            return deny(req, parsed)
    ops: list[Op] = []
    warnings: tuple[str, ...] = ()
    if statusguard.untrusted(req, trusted) and statusguard.restore(
        ops, obj, annotations, old_ann.get(n.STATUS)
    ):
        ref = f"{req.namespace or _text(meta.get('namespace')) or 'default'}/{name}"
        warnings = (statusguard.warning(req, ref),)
    response = ReviewResponse(req.uid, patch=tuple(ops), warnings=warnings)
    return Decision(response, Outcome.MUTATED if ops else Outcome.ALLOWED, "status")


def _allow(req: ReviewRequest, reason: str, warnings: tuple[str, ...] = ()) -> Decision:
    return Decision(ReviewResponse(req.uid, warnings=warnings), Outcome.ALLOWED, reason)


class _Context:
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
    ) -> None:
        self.req = req
        self.obj = obj
        self.annotations = annotations
        self.parsed = parsed
        self.ref = ref
        self.namespace = namespace
        self.name = name
        self.spec = _map(obj, "spec", "request.object") or {}
        self.template = _template(self.spec, "request.object.spec")
        self.ops: list[Op] = []
        self.warnings: list[str] = list(parsed.warnings)
        self.status_text: str | None = None  # the status annotation to write, if any
        self.guarded = False  # the writer may not change the status (statusguard)
        self.old_status: Any = None  # the status before this write (when guarded)

    def done(self, reason: str) -> Decision:
        written = self.annotations.get(n.STATUS)
        if self.guarded and written is not None and written != self.old_status:
            self.warnings.append(statusguard.warning(self.req, self.ref))
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
        old_meta = _map(old, "metadata", "request.oldObject") or {}
        old_labels = _map(old_meta, "labels", "request.oldObject.metadata") or {}
        old_ann = _map(old_meta, "annotations", "request.oldObject.metadata") or {}
        old_spec = _map(old, "spec", "request.oldObject") or {}
        old_template = _template(old_spec, "request.oldObject.spec")
        adopting = old_labels.get(n.ENABLED_LABEL) != "true"
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
        old_value = _label(old_template, n.HASH_LABEL)
        if old_value and _label(self.template, n.HASH_LABEL) != old_value:
            self.stamp(old_value)
        if (
            status.in_release
            and status.phase is not Phase.PROMOTING
            and self.spec.get("paused") is not True
        ):
            # Only the reconciler unpauses mid-release, and it writes phase Promoting in the
            # same update; anyone else's unpause would roll the canary to every pod.
            self.set_paused(True)
            self.warnings.append(
                f"canarist: {self.ref} stays paused while its release runs; follow it with: "
                f"canarist status {self.name} -n {self.namespace}"
            )
        return self.done("unchanged")

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
        if self.template is None or _label(self.template, n.HASH_LABEL) == value:
            return
        set_nested(self.ops, self.obj, TEMPLATE_LABELS, n.HASH_LABEL, value)

    def set_paused(self, paused: bool) -> None:
        if self.spec.get("paused", False) is not paused:
            set_nested(self.ops, self.obj, ("spec",), "paused", paused)

    def write_status(self, status: ReleaseStatus) -> None:
        self.status_text = status.to_json()


# --- small readers -------------------------------------------------------------------------


def _map(parent: Mapping[str, Any], key: str, path: str) -> JSONObject | None:
    value = parent.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise bad_review(f"{path}.{key}", f"must be an object or null, got {json_type(value)}")


def _template(spec: Mapping[str, Any], path: str) -> JSONObject | None:
    """``spec.template``, checked down to its labels (the part the hash reads specially)."""
    template = _map(spec, "template", path)
    if template is not None:
        meta = _map(template, "metadata", f"{path}.template")
        if meta is not None:
            _map(meta, "labels", f"{path}.template.metadata")
    return template


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _label(template: Mapping[str, Any] | None, key: str) -> str:
    meta = (template or {}).get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    value = labels.get(key) if isinstance(labels, dict) else None
    return value if isinstance(value, str) else ""
