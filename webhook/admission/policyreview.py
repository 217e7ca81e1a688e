"""The cluster policies' part of one review: the two versions of the Deployment under their
policies, the findings collected while the review is decided, and the verdict.

``PolicyReview.of`` reads the sides; ``mutate`` and ``context`` add findings where they see them
(opting out, guardrails, an unpause, a status changed) and ``finish`` judges them once, at the
end (``policygate.judge``): a denial, or an exempt writer's bypass recorded on the object as
``canarist.io/bypass`` with a warning. The reconciler's own writes (``--trusted-user``) are never
judged. ``canarist.io/bypass`` itself may only be written by the webhook: a writer's change to it
is refused, whoever they are (an earlier call of the same request, whose record carries the
request's uid, is the webhook's own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from webhook.admission.patch import Op, set_nested
from webhook.admission.policygate import Finding, Side, Verdict, judge
from webhook.admission.review import JSONObject, ReviewRequest
from webhook.policy import BypassRecord, ClusterPolicy
from webhook.spec import names as n

ANNOTATIONS = ("metadata", "annotations")


class PolicyMatcher(Protocol):
    """What the webhook holds in force (``webhook.policy.PolicyStore``)."""

    def match(self, namespace: str, labels: Mapping[str, str]) -> ClusterPolicy | None: ...


class PolicyReview:
    def __init__(self, req: ReviewRequest, new: Side, old: Side | None, *,
                 trusted: frozenset[str] | None, subject: str) -> None:
        self.req = req
        self.new = new
        self.old = old
        # the reconciler's writes are not judged; without --trusted-user everyone's are
        self.judged = trusted is None or req.user not in trusted
        self.subject = subject
        self.findings: list[Finding] = []

    @classmethod
    def of(cls, req: ReviewRequest, policies: PolicyMatcher | None, namespace: str,
           labels: Mapping[str, Any], annotations: Mapping[str, Any],
           old: tuple[Mapping[str, Any], Mapping[str, Any]] | None, *,
           trusted: frozenset[str] | None, subject: str) -> PolicyReview:
        """``old``: the previous version's labels and annotations (an UPDATE)."""

        def policy(found: Mapping[str, Any]) -> ClusterPolicy | None:
            return policies.match(namespace, found) if policies is not None else None

        old_side = Side(old[0], old[1], policy(old[0])) if old is not None else None
        return cls(req, Side(labels, annotations, policy(labels)), old_side, trusted=trusted,
                   subject=subject)

    @property
    def policy(self) -> ClusterPolicy | None:
        """The policy governing this write: the new version's, else the old one's."""
        return self.new.policy or (self.old.policy if self.old is not None else None)

    @property
    def enforcing(self) -> ClusterPolicy | None:
        policy = self.policy
        return policy if policy is not None and policy.enforce and self.judged else None

    @property
    def exempt(self) -> bool:
        policy = self.policy
        return policy is not None and policy.exempt.covers(self.req.user, self.req.groups)

    def add(self, findings: Iterable[Finding]) -> None:
        if self.judged:
            self.findings.extend(findings)

    def forged_record(self) -> str | None:
        """Why a writer's change to ``canarist.io/bypass`` is refused, if it is one."""
        text = self.new.annotations.get(n.BYPASS)
        before = self.old.annotations.get(n.BYPASS) if self.old is not None else None
        if text == before or not self.judged:
            return None
        record = BypassRecord.of(self.new.annotations) if isinstance(text, str) else None
        if record is not None and record.uid == self.req.uid:
            return None  # the webhook's own, from an earlier call for this request
        return (f"{self.subject}: {n.BYPASS}: is written by canarist's admission webhook only (the "
                f"last bypass of a cluster policy by an exempt user); leave it as it is")

    def verdict(self) -> Verdict:
        return judge(self.findings, uid=self.req.uid, user=self.req.user,
                     groups=self.req.groups, subject=self.subject)

    def finish(self, ops: list[Op], obj: JSONObject, warnings: list[str]) -> str | None:
        """Judge the findings: the denial, or ``None`` with the bypass recorded in ``ops``."""
        verdict = self.verdict()
        if verdict.denial is not None:
            return verdict.denial
        record = verdict.record
        if record is None:
            return None
        earlier = BypassRecord.of(self.new.annotations)
        if earlier is not None and earlier.uid == record.uid:
            # an earlier call for this request recorded the write as it first came
            more = tuple(r for r in record.rules if r not in earlier.rules)
            if not more:
                return None
            record = replace(earlier, rules=earlier.rules + more,
                             message=f"{earlier.message}; {record.message}")
        set_nested(ops, obj, ANNOTATIONS, n.BYPASS, record.to_json())
        warnings.extend(verdict.warnings)
        return None
