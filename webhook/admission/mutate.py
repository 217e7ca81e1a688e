"""The mutation: a pure function from an AdmissionReview request to its response.

It runs on every write of an opted-in Deployment, so it parses the review once, hashes the new
pod template once (not at all when the two templates are equal), the old one only when the
decision needs it (``Context.hashes``), and caches the parsed canary spec by the annotation
values it depends on. The rules are those of DESIGN §2; the
decisions that are not obvious from it are spelled out next to the code that makes them.
"""

from __future__ import annotations

from webhook.admission import statusguard
from webhook.admission.context import Context
from webhook.admission.outcome import Decision, Outcome, allow, deny
from webhook.admission.patch import Op
from webhook.admission.readers import obj_map, text_of
from webhook.admission.review import (
    JSONObject,
    ReviewRequest,
    ReviewResponse,
    parse_review,
    too_deep,
)
from webhook.admission.speccache import SpecCache, SpecLookup, parsing, relevant
from webhook.spec import names as n

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


def _decide(req: ReviewRequest, specs: SpecLookup, trusted: frozenset[str] | None) -> Decision:
    if _is_deployment(req) and req.operation == "UPDATE" and req.sub_resource == "status":
        return _status_write(req, specs, trusted)
    if not _applies(req):
        return allow(req, "ignored")
    obj = req.object or {}
    meta = obj_map(obj, "metadata", "request.object") or {}
    labels = obj_map(meta, "labels", "request.object.metadata") or {}
    if labels.get(n.ENABLED_LABEL) != "true":
        return allow(req, "not-opted-in")
    annotations = obj_map(meta, "annotations", "request.object.metadata") or {}
    name = text_of(meta.get("name")) or req.name or text_of(meta.get("generateName"))
    parsed = specs(annotations, name)
    if isinstance(parsed, str):
        return deny(req, parsed)
    namespace = req.namespace or text_of(meta.get("namespace")) or "default"
    ctx = Context(req, obj, annotations, parsed, f"{namespace}/{name}", namespace, name)
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
    meta = obj_map(obj, "metadata", "request.object") or {}
    old_meta = obj_map(old, "metadata", "request.oldObject") or {}
    annotations = obj_map(meta, "annotations", "request.object.metadata") or {}
    old_ann = obj_map(old_meta, "annotations", "request.oldObject.metadata") or {}
    labels = obj_map(meta, "labels", "request.object.metadata") or {}
    name = text_of(meta.get("name")) or req.name
    if labels.get(n.ENABLED_LABEL) == "true" and relevant(annotations) != relevant(old_ann):
        parsed = specs(annotations, name)
        if isinstance(parsed, str):
            return deny(req, parsed)
    ops: list[Op] = []
    warnings: tuple[str, ...] = ()
    if statusguard.untrusted(req, trusted) and statusguard.restore(
        ops, obj, annotations, old_ann.get(n.STATUS)
    ):
        ref = f"{req.namespace or text_of(meta.get('namespace')) or 'default'}/{name}"
        warnings = (statusguard.warning(req, ref),)
    response = ReviewResponse(req.uid, patch=tuple(ops), warnings=warnings)
    return Decision(response, Outcome.MUTATED if ops else Outcome.ALLOWED, "status")


__all__ = ["Decision", "Outcome", "allow", "decide", "deny", "review"]
