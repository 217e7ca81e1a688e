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
from webhook.admission.policygate import forging_status, guardrails, opting_out
from webhook.admission.policyreview import PolicyMatcher, PolicyReview
from webhook.admission.readers import obj_map, text_of
from webhook.admission.review import (
    JSONObject,
    ReviewRequest,
    ReviewResponse,
    parse_review,
    too_deep,
)
from webhook.admission.speccache import SpecCache, SpecLookup, parsing, relevant
from webhook.policy import ClusterPolicy, effective_annotations
from webhook.policy.effective import from_policy
from webhook.spec import names as n

DEFAULT_CACHE = SpecCache()  # the specs of ``review`` and ``decide`` called without a lookup
_DEFAULT_LOOKUP = parsing(DEFAULT_CACHE)
MAX_DEPTH = 100  # a template nested deeper is refused (no pod template comes near)


def review(
    body: bytes | str | JSONObject,
    specs: SpecLookup | None = None,
    *,
    trusted: frozenset[str] | None = None,
    policies: PolicyMatcher | None = None,
) -> Decision:
    """Parse an AdmissionReview and decide; ``BadReview`` for an unusable body."""
    return decide(parse_review(body), specs, trusted=trusted, policies=policies)


def decide(
    req: ReviewRequest,
    specs: SpecLookup | None = None,
    *,
    trusted: frozenset[str] | None = None,
    policies: PolicyMatcher | None = None,
) -> Decision:
    """The decision on one review. ``specs`` finds the parsed canary spec of the annotations
    (default: parse, with a shared bounded cache); it may raise ``NeedsParse``. ``trusted``:
    the users who may change ``canarist.io/status`` (``None``: anyone; see ``statusguard``).
    ``policies``: the cluster policies in force (``webhook.policy.PolicyStore``)."""
    try:
        return _decide(req, specs or _DEFAULT_LOOKUP, trusted, policies)
    except RecursionError:
        path = too_deep(req.object, "request.object", MAX_DEPTH) or too_deep(
            req.old_object, "request.oldObject", MAX_DEPTH
        )
        return deny(req, f"{path or 'request.object'}: nested more than {MAX_DEPTH} levels deep")


def _decide(
    req: ReviewRequest,
    specs: SpecLookup,
    trusted: frozenset[str] | None,
    policies: PolicyMatcher | None,
) -> Decision:
    if _is_deployment(req) and req.operation == "UPDATE" and req.sub_resource == "status":
        return _status_write(req, specs, trusted, policies)
    if not _applies(req):
        return allow(req, "ignored")
    obj = req.object or {}
    meta = obj_map(obj, "metadata", "request.object") or {}
    labels = obj_map(meta, "labels", "request.object.metadata") or {}
    if policies is None and labels.get(n.ENABLED_LABEL) != "true":
        return allow(req, "not-opted-in")
    annotations = obj_map(meta, "annotations", "request.object.metadata") or {}
    name = text_of(meta.get("name")) or req.name or text_of(meta.get("generateName"))
    namespace = req.namespace or text_of(meta.get("namespace")) or "default"
    gate = PolicyReview.of(req, policies, namespace, labels, annotations, _old_meta(req),
                           trusted=trusted, subject=f"Deployment {name}")
    refused = gate.forged_record()
    if refused:
        return deny(req, refused)
    gate.add(opting_out(gate.new, gate.old))
    if gate.findings or not gate.new.managed:
        return _unmanaged(req, obj, gate)
    parsed = specs(effective_annotations(annotations, gate.new.policy), name)
    if isinstance(parsed, str):
        return deny(req, _from_policy(parsed, annotations, gate.new.policy))
    if _changes_release(req, annotations):
        gate.add(guardrails(parsed.spec, gate.new.policy))
    ctx = Context(req, obj, annotations, parsed, f"{namespace}/{name}", namespace, name, gate)
    ctx.untrusted = statusguard.untrusted(req, trusted)
    # the decision reads the previous status, but an exempt writer's under an enforcing
    # policy (theirs stands, recorded); an enforcing policy refuses the others' changes
    ctx.guarded = ctx.untrusted and not (gate.enforcing is not None and gate.exempt)
    if req.operation == "CREATE":
        return ctx.create()
    return ctx.update()


def _old_meta(req: ReviewRequest) -> tuple[JSONObject, JSONObject] | None:
    if req.operation != "UPDATE":
        return None
    meta = obj_map(req.old_object or {}, "metadata", "request.oldObject") or {}
    return (obj_map(meta, "labels", "request.oldObject.metadata") or {},
            obj_map(meta, "annotations", "request.oldObject.metadata") or {})


def _unmanaged(req: ReviewRequest, obj: JSONObject, gate: PolicyReview) -> Decision:
    """A Deployment canarist does not manage (or that a writer opts out): nothing to do but
    judge an opt-out an enforcing policy refuses (an exempt writer's is recorded)."""
    ops: list[Op] = []
    warnings: list[str] = []
    denial = gate.finish(ops, obj, warnings)
    if denial is not None:
        return deny(req, denial)
    if not ops:
        return allow(req, "not-opted-in")
    response = ReviewResponse(req.uid, patch=tuple(ops), warnings=tuple(warnings))
    return Decision(response, Outcome.MUTATED, "bypass")


def _changes_release(req: ReviewRequest, annotations: JSONObject) -> bool:
    """A write that could start or change a release: a create, a new template, changed canarist
    annotations, a new action (the reconciler consuming one is not)."""
    if req.operation == "CREATE":
        return True
    old = req.old_object or {}
    _, old_ann = _old_meta(req) or ({}, {})
    mine, theirs = relevant(annotations), relevant(old_ann)
    action = mine.pop(n.ACTION, None)
    if action is not None and action != theirs.get(n.ACTION):
        return True
    theirs.pop(n.ACTION, None)
    if mine != theirs:
        return True
    spec, old_spec = (req.object or {}).get("spec"), old.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    return template != (old_spec.get("template") if isinstance(old_spec, dict) else None)


def _from_policy(message: str, annotations: JSONObject, policy: ClusterPolicy | None) -> str:
    """A denial of effective annotations names the ones the policy supplied."""
    supplied = sorted(from_policy(annotations, policy))
    if not supplied or policy is None:
        return message
    return f"{message}\n(from policy {policy.name}: {', '.join(supplied)})"


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
    req: ReviewRequest,
    specs: SpecLookup,
    trusted: frozenset[str] | None,
    policies: PolicyMatcher | None,
) -> Decision:
    """An UPDATE through ``deployments/status``: it cannot change the spec or the labels, but
    it keeps annotation changes, so the status is guarded and changed canary annotations are
    validated as on the Deployment itself. Under an enforcing policy a writer's status change
    is refused (an exempt writer's is kept and recorded)."""
    obj = req.object or {}
    meta = obj_map(obj, "metadata", "request.object") or {}
    annotations = obj_map(meta, "annotations", "request.object.metadata") or {}
    labels = obj_map(meta, "labels", "request.object.metadata") or {}
    old_labels, old_ann = _old_meta(req) or ({}, {})
    name = text_of(meta.get("name")) or req.name
    namespace = req.namespace or text_of(meta.get("namespace")) or "default"
    gate = PolicyReview.of(req, policies, namespace, labels, annotations, (old_labels, old_ann),
                           trusted=trusted, subject=f"Deployment {name}")
    refused = gate.forged_record()
    if refused:
        return deny(req, refused)
    if gate.new.managed and relevant(annotations) != relevant(old_ann):
        parsed = specs(effective_annotations(annotations, gate.new.policy), name)
        if isinstance(parsed, str):
            return deny(req, _from_policy(parsed, annotations, gate.new.policy))
    ops: list[Op] = []
    warnings: list[str] = []
    written, before = annotations.get(n.STATUS), old_ann.get(n.STATUS)
    enforcing = gate.enforcing if gate.new.managed else None
    if enforcing is not None and statusguard.untrusted(req, trusted) and written != before:
        gate.add(forging_status(enforcing, written is None))
        denial = gate.finish(ops, obj, warnings)
        if denial is not None:
            return deny(req, denial)
    elif statusguard.untrusted(req, trusted) and statusguard.restore(
        ops, obj, annotations, before
    ):
        warnings.append(statusguard.warning(req, f"{namespace}/{name}"))
    response = ReviewResponse(req.uid, patch=tuple(ops), warnings=tuple(warnings))
    return Decision(response, Outcome.MUTATED if ops else Outcome.ALLOWED, "status")


__all__ = ["Decision", "Outcome", "allow", "decide", "deny", "review"]
