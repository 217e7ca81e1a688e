"""What a policy means for one Deployment: whether canarist manages it, and its effective spec.

Precedence, per annotation: the Deployment's own, then the matching policy's ``defaults``, then
canarist's built-in default (``webhook.spec``). ``effective_annotations`` merges the first two;
``parse_effective`` parses the result and, when a problem lies in a value the policy supplied,
says so (``canarist.io/steps[4].setMirrorRoute: ... (canarist.io/steps from policy team-a)``).

Who is managed (``manage``):

- label ``canarist.io/enabled: "true"``: always;
- label ``"false"``: opted out, unless the policy adopts and enforces and no exempt user's
  bypass opted it out (``BypassRecord``);
- no label: when the first matching policy has ``adopt: true``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.errors import Problem, SpecError
from webhook.policy.model import ClusterPolicy
from webhook.spec import names as n
from webhook.spec.canary import ParsedSpec, parse_canary_spec

OPT_OUT = "optOut"  # the bypass of an enforced policy's opt-out refusal, in BypassRecord.rules


def effective_annotations(
    own: Mapping[str, Any], policy: ClusterPolicy | None
) -> Mapping[str, Any]:
    """The Deployment's annotations over the policy's defaults (``own`` itself if no default)."""
    if policy is None or not policy.defaults:
        return own
    merged: dict[str, Any] = policy.defaults_map
    merged.update(own)
    return merged


def from_policy(own: Mapping[str, Any], policy: ClusterPolicy | None) -> frozenset[str]:
    """The annotations whose effective value is the policy's default."""
    if policy is None:
        return frozenset()
    return frozenset(k for k, _ in policy.defaults if k not in own)


def parse_effective(
    own: Mapping[str, Any], policy: ClusterPolicy | None, *, deployment: str = ""
) -> ParsedSpec:
    """The spec of the merged annotations; ``SpecError`` naming the policy where it applies."""
    try:
        return parse_canary_spec(effective_annotations(own, policy), deployment=deployment)
    except SpecError as exc:
        raise attribute(exc, own, policy) from None


def attribute(exc: SpecError, own: Mapping[str, Any], policy: ClusterPolicy | None) -> SpecError:
    """``exc`` with each problem in a policy-supplied value saying where the value came from."""
    supplied = from_policy(own, policy)
    if not supplied or policy is None:
        return exc
    problems = [
        Problem(p.path, f"{p.message} ({key} from policy {policy.name})")
        if (key := annotation_of(p.path)) in supplied
        else p
        for p in exc.problems
    ]
    return SpecError(problems, subject=exc.subject)


def annotation_of(path: str) -> str:
    """The annotation a problem path starts with: ``canarist.io/steps[2].x`` -> the steps."""
    end = len(path)
    for mark in ("[", ".", " "):
        i = path.find(mark, len(n.PREFIX))
        if i != -1:
            end = min(end, i)
    return path[:end]


# --- who is managed ------------------------------------------------------------------------


@dataclass(frozen=True)
class Management:
    managed: bool
    reason: str


def manage(
    labels: Mapping[str, Any], annotations: Mapping[str, Any], policy: ClusterPolicy | None
) -> Management:
    label = labels.get(n.ENABLED_LABEL)
    if label == "true":
        return Management(True, f'label {n.ENABLED_LABEL}: "true"')
    if policy is None:
        return Management(
            False, f'not opted in: no label {n.ENABLED_LABEL}: "true" and no policy covers it'
        )
    if label == "false":
        if policy.adopt and policy.enforce and not opted_out_by_exempt(annotations):
            return Management(
                True,
                f'adopted by policy {policy.name}; label {n.ENABLED_LABEL}: "false" does not opt '
                f"out, the policy enforces",
            )
        return Management(False, f'opted out (label {n.ENABLED_LABEL}: "false")')
    if policy.adopt:
        return Management(True, f"adopted by policy {policy.name}")
    return Management(
        False,
        f'not opted in: no label {n.ENABLED_LABEL}: "true" and policy {policy.name} does not '
        f"adopt (adopt: false)",
    )


def opted_out_by_exempt(annotations: Mapping[str, Any]) -> bool:
    record = BypassRecord.of(annotations)
    return record is not None and OPT_OUT in record.rules


@dataclass(frozen=True)
class BypassRecord:
    """``canarist.io/bypass``: the last bypass of a policy by an exempt user, written by the
    webhook on the object it allowed (it cannot write Events: ``sideEffects: None``); the
    reconciler turns each one (by ``uid``, the admission request's) into a Warning Event."""

    uid: str
    user: str
    groups: tuple[str, ...]
    policy: str
    rules: tuple[str, ...]  # e.g. rules.maxWeightIncrease, optOut, unpause, status
    message: str

    def to_json(self) -> str:
        doc = {
            "uid": self.uid,
            "user": self.user,
            "groups": list(self.groups),
            "policy": self.policy,
            "rules": list(self.rules),
            "message": self.message,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def of(cls, annotations: Mapping[str, Any]) -> BypassRecord | None:
        """The record on an object (lenient: a garbled one reads as none)."""
        text = annotations.get(n.BYPASS)
        if not isinstance(text, str) or len(text) > 16384:
            return None
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(raw, dict):
            return None
        groups, rules = raw.get("groups"), raw.get("rules")
        return cls(
            uid=_text(raw.get("uid")),
            user=_text(raw.get("user")),
            groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list)
            else (),
            policy=_text(raw.get("policy")),
            rules=tuple(r for r in rules if isinstance(r, str)) if isinstance(rules, list)
            else (),
            message=_text(raw.get("message")),
        )

    def event_message(self) -> str:
        groups = f" (groups {', '.join(self.groups)})" if self.groups else ""
        return (
            f"{self.user or 'an unnamed user'}{groups}, exempt from policy {self.policy}, "
            f"bypassed it: {self.message}"
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
