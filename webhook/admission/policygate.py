"""Cluster policies at admission: what a write may not do, and who may do it anyway.

Pure functions of the two versions of a Deployment (``Side``), the policies covering them and the
writer. Two kinds of findings, each naming the policy and the rule:

- **guardrails** (any policy): the effective spec of a Deployment the policy manages breaks a
  rule (``rules.py``), checked when the write could start or change a release (a create, a new
  template, changed canarist annotations);
- **enforcement** (``enforce: true``): opting out (the label turned ``"false"``, or a managed
  Deployment no longer managed: label ``"true"`` removed, labels changed to leave the policy's
  selector), unpausing a held release, and changing ``canarist.io/status`` (with
  ``--trusted-user``: any writer but the reconciler; the webhook's own status writes, decided
  from the previous status, are not a change).

``judge`` turns findings into a denial, or, when the writer is exempt (``exempt.users`` or
``exempt.groups`` of every policy involved), into an allowed write carrying a ``BypassRecord``
(``canarist.io/bypass``) and a warning. The webhook cannot write the Event itself (it has no side
effects, and a dry run must leave no trace): the record on the object is what the reconciler
turns into a Warning Event ``PolicyBypassed`` naming the user.

The reconciler's own writes (``--trusted-user``) are never judged: it unpauses at promotion,
rewrites the status and consumes actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.errors import Problem, SpecError
from webhook.policy import BypassRecord, ClusterPolicy, manage, violations
from webhook.policy.rules import rule_of
from webhook.spec import names as n
from webhook.spec.canary import CanarySpec

OPT_OUT, UNPAUSE, STATUS = "optOut", "unpause", "status"
ENFORCED = "(enforce: true)"


@dataclass(frozen=True)
class Side:
    """One version of the Deployment, as admission reads it."""

    labels: Mapping[str, Any]
    annotations: Mapping[str, Any]
    policy: ClusterPolicy | None

    @property
    def managed(self) -> bool:
        return manage(self.labels, self.annotations, self.policy).managed


@dataclass(frozen=True)
class Finding:
    problem: Problem
    rule: str  # optOut, unpause, status, or rules.<name>
    policy: ClusterPolicy


def guardrails(spec: CanarySpec, policy: ClusterPolicy | None) -> list[Finding]:
    if policy is None:
        return []
    return [Finding(p, rule_of(p), policy) for p in violations(spec, policy)]


def opting_out(new: Side, old: Side | None) -> list[Finding]:
    """An enforced policy's Deployment leaving it."""
    found: list[Finding] = []
    label, old_label = new.labels.get(n.ENABLED_LABEL), (old.labels if old else {}).get(
        n.ENABLED_LABEL)
    policy = new.policy
    if label == "false" and old_label != "false" and policy is not None and policy.enforce:
        found.append(_opt_out(policy, f'label {n.ENABLED_LABEL}: "false"'))
    elif old is not None and old.policy is not None and old.policy.enforce and old.managed:
        moved = new.policy is None or new.policy.name != old.policy.name
        if old_label == "true" and label != "true" and not new.managed:
            found.append(_opt_out(old.policy, f'label {n.ENABLED_LABEL}: "true" removed'))
        elif moved or not new.managed:
            found.append(_opt_out(old.policy, f"labels that policy {old.policy.name} no longer "
                                  "selects"))
    return found


def _opt_out(policy: ClusterPolicy, how: str) -> Finding:
    return Finding(
        Problem(
            n.ENABLED_LABEL,
            f"opting out ({how}) is not allowed: policy {policy.name} enforces canary releases "
            f"{ENFORCED}",
        ),
        OPT_OUT,
        policy,
    )


def unpausing(policy: ClusterPolicy | None, ref: str) -> list[Finding]:
    """A writer's unpause of a release the webhook holds, under an enforced policy."""
    if policy is None or not policy.enforce:
        return []
    return [
        Finding(
            Problem(
                "spec.paused",
                f"unpausing a release held for canary steps is not allowed: policy "
                f"{policy.name} enforces canary releases {ENFORCED}; follow it with canarist "
                f"status {ref}, or use canarist promote / abort",
            ),
            UNPAUSE,
            policy,
        )
    ]


def forging_status(policy: ClusterPolicy | None, removed: bool) -> list[Finding]:
    """A writer's change to ``canarist.io/status``, under an enforced policy."""
    if policy is None or not policy.enforce:
        return []
    what = "removing it" if removed else "changing it"
    return [
        Finding(
            Problem(
                n.STATUS,
                f"is written by canarist only ({what} is not allowed): policy {policy.name} "
                f"enforces canary releases {ENFORCED}",
            ),
            STATUS,
            policy,
        )
    ]


@dataclass(frozen=True)
class Verdict:
    denial: str | None = None
    record: BypassRecord | None = None
    warnings: tuple[str, ...] = ()

    @property
    def denied(self) -> bool:
        return self.denial is not None


def judge(
    findings: Sequence[Finding],
    *,
    uid: str,
    user: str,
    groups: Iterable[str],
    subject: str,
) -> Verdict:
    """Deny the findings, or let an exempt writer through with a bypass record."""
    if not findings:
        return Verdict()
    groups = tuple(groups)
    policies = {f.policy.name: f.policy for f in findings}
    if all(p.exempt.covers(user, groups) for p in policies.values()):
        rules = tuple(dict.fromkeys(f.rule for f in findings))
        names = ", ".join(policies)
        record = BypassRecord(
            uid=uid,
            user=user,
            groups=groups,
            policy=names,
            rules=rules,
            message="; ".join(str(f.problem) for f in findings),
        )
        warning = (
            f"canarist: {user or 'an unnamed user'} is exempt from policy {names}: "
            f"{', '.join(rules)} bypassed, recorded in {n.BYPASS} and a Warning Event"
        )
        return Verdict(record=record, warnings=(warning,))
    return Verdict(denial=SpecError([f.problem for f in findings], subject=subject).summary())
