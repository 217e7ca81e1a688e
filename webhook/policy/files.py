"""``canarist validate --policy POLICIES [-f FILE]``: a policy document, and Deployments under it,
checked offline.

The document is reported with every problem at its path (``policies[1].rules.minPause: ...``),
or as valid with its warnings (shadowed policies, built-in defaults that break a policy's
rules). Each Deployment of FILE is then judged as admission would: the first policy covering it
(its ``metadata.namespace``, ``default`` when it has none; Namespace objects of FILE give their
labels to policies selecting namespaces by label), whether it is managed, and its effective
annotations against the policy's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.errors import PolicyError, SpecError
from webhook.policy.effective import manage, parse_effective
from webhook.policy.model import PolicySet
from webhook.policy.parse import parse_policies
from webhook.policy.rules import violations
from webhook.spec.files import Report, argo_message, load_documents
from webhook.spec.hashing import template_hash


@dataclass(frozen=True)
class PolicyReport:
    ok: bool
    text: str
    policies: PolicySet | None  # None: the document is invalid


def check_policies(text: str, source: str) -> PolicyReport:
    try:
        policies = parse_policies(text, source)
    except PolicyError as exc:
        lines = [f"{source}: invalid policies ({len(exc.problems)} problem"
                 f"{'s' if len(exc.problems) != 1 else ''})"]
        lines += [f"  {p}" for p in exc.problems]
        return PolicyReport(False, "\n".join(lines) + "\n", None)
    n = len(policies)
    names = ", ".join(p.name for p in policies.policies)
    lines = [f"{source}: ok ({n} polic{'y' if n == 1 else 'ies'}{': ' + names if n else ''})"]
    lines += [f"  warning: {w}" for w in policies.warnings]
    return PolicyReport(True, "\n".join(lines) + "\n", policies)


def validate_deployments(text: str, source: str, policies: PolicySet) -> Report:
    objects = load_documents(text, source)
    namespaces = {
        str(_map(o.get("metadata")).get("name")): _str_map(_map(o.get("metadata")).get("labels"))
        for o in objects
        if o.get("kind") == "Namespace"
    }
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    argo = [m for m in (argo_message(o, source) for o in objects) if m]
    if not deployments:
        found = [f"{source}: {m}" for m in argo] or [f"{source}: no Deployment found"]
        return Report(False, "\n".join(found) + "\n")
    ok = True
    lines: list[str] = []
    for obj in deployments:
        meta = _map(obj.get("metadata"))
        name = str(meta.get("name", "?"))
        ns = str(meta.get("namespace") or "default")
        labels, annotations = _str_map(meta.get("labels")), _map(meta.get("annotations"))
        policy = policies.match(ns, labels, namespaces.get(ns))
        under = f"policy {policy.name}" if policy is not None else "no policy"
        state = manage(labels, annotations, policy)
        if not state.managed:
            lines.append(f"{ns}/{name}: not managed: {state.reason}")
            continue
        try:
            parsed = parse_effective(annotations, policy, deployment=name)
            problems = violations(parsed.spec, policy) if policy is not None else []
        except SpecError as exc:
            problems = list(exc.problems)
            parsed = None
        if problems or parsed is None:
            ok = False
            lines.append(f"{ns}/{name}: invalid ({under})")
            lines += [f"  {p}" for p in problems]
            continue
        spec = parsed.spec
        try:
            digest = template_hash(_map(_map(obj.get("spec")).get("template")))
        except RecursionError:
            ok = False
            lines.append(f"{ns}/{name}: invalid\n  spec.template: nested too deeply to be hashed")
            continue
        lines.append(
            f"{ns}/{name}: ok ({under}; {len(spec.steps)} steps, router "
            f"{','.join(spec.routers)}, template hash {digest})"
        )
        lines.extend(f"  warning: {w}" for w in parsed.warnings)
    lines.extend(f"warning: {source}: {m}" for m in argo)
    return Report(ok, "\n".join(lines) + "\n")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _map(value).items()}
