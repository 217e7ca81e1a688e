"""``canarist policy explain``: every effective setting of a Deployment and where it came from.

Each setting (an annotation name without ``canarist.io/``) is the Deployment's own, the
matching policy's default, or canarist's built-in default; ``explain`` returns them in the
order of ``docs/annotations.md``, with the policy's rules and how the Deployment is managed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.errors import SpecError
from webhook.policy.effective import effective_annotations, manage, parse_effective
from webhook.policy.model import ClusterPolicy
from webhook.spec import names as n
from webhook.spec.canary import (
    DEFAULT_ROUTERS,
    DEFAULT_SCALE_DOWN_DELAY,
    DEFAULT_STEPS,
    CanarySpec,
)
from webhook.spec.durations import format_duration
from webhook.spec.steps import describe_step as describe

BUILT_IN: dict[str, str] = {
    n.STEPS: ", ".join(describe(s) for s in DEFAULT_STEPS),
    n.TRAFFIC_ROUTER: ",".join(DEFAULT_ROUTERS),
    n.STABLE_SERVICE: "the one Service selecting the pods",
    n.CANARY_SERVICE: "<stable Service>-canary",
    n.DYNAMIC_STABLE_SCALE: "false",
    n.SCALE_DOWN_DELAY: f"{format_duration(DEFAULT_SCALE_DOWN_DELAY)} (0s with "
    "dynamic-stable-scale)",
    n.ABORT_SCALE_DOWN_DELAY: format_duration(DEFAULT_SCALE_DOWN_DELAY),
    n.STICKY: "off",
    n.ANALYSIS: "none",
}
SETTINGS = tuple(k for k in n.USER_ANNOTATIONS if k != n.ACTION)
WIDTH = 72


@dataclass(frozen=True)
class Setting:
    name: str  # without canarist.io/
    value: str  # one line
    source: str  # "Deployment", "policy NAME" or "built-in"


@dataclass(frozen=True)
class Explanation:
    managed: bool
    why: str
    policy: ClusterPolicy | None
    settings: tuple[Setting, ...]
    problems: tuple[str, ...]  # the effective annotations' problems, if any


def explain(
    labels: Mapping[str, Any], own: Mapping[str, Any], policy: ClusterPolicy | None
) -> Explanation:
    state = manage(labels, own, policy)
    merged = effective_annotations(own, policy)
    spec: CanarySpec | None = None
    problems: tuple[str, ...] = ()
    try:
        spec = parse_effective(own, policy).spec
    except SpecError as exc:
        problems = tuple(str(p) for p in exc.problems)
    settings = []
    for key in SETTINGS:
        if key in own:
            source = "Deployment"
        elif key in merged and policy is not None:
            source = f"policy {policy.name}"
        elif key in BUILT_IN:
            source = "built-in"
        else:
            continue  # a router option nobody set
        value = _value(key, merged.get(key), spec)
        settings.append(Setting(key[len(n.PREFIX) :], value, source))
    return Explanation(state.managed, state.reason, policy, tuple(settings), problems)


def _value(key: str, text: Any, spec: CanarySpec | None) -> str:
    if text is None:
        return BUILT_IN[key]
    if key == n.STEPS and spec is not None:
        return _cut(", ".join(describe(s) for s in spec.steps))
    if key == n.ANALYSIS and spec is not None and spec.analysis is not None:
        a = spec.analysis
        names = ", ".join(m.name for m in a.metrics)
        kind = "background" if a.background else "in analysis steps"
        return _cut(f"{len(a.metrics)} metric{'s' if len(a.metrics) != 1 else ''} ({names}), "
                    f"every {format_duration(a.interval)}, {kind}")
    return _cut(" ".join(str(text).split()))


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def rule_lines(policy: ClusterPolicy) -> list[tuple[str, str]]:
    """The policy's settings beyond the defaults, as (name, value) rows."""
    r = policy.rules
    rows = [
        ("scope", policy.describe_scope()),
        ("adopt", _bool(policy.adopt)),
        ("enforce", _bool(policy.enforce)),
    ]
    if r.max_weight_increase is not None:
        rows.append(("rules.maxWeightIncrease", str(r.max_weight_increase)))
    if r.min_pause is not None:
        rows.append(("rules.minPause", format_duration(r.min_pause)))
    if r.require_analysis:
        rows.append(("rules.requireAnalysis", "true"))
    if r.allowed_routers is not None:
        rows.append(("rules.allowedRouters", ", ".join(r.allowed_routers)))
    if not r.allow_promote_full:
        rows.append(("rules.allowPromoteFull", "false"))
    if r.max_concurrent_releases is not None:
        rows.append(("rules.maxConcurrentReleases", str(r.max_concurrent_releases)))
    if not policy.exempt.empty:
        who = [f"user {u}" for u in sorted(policy.exempt.users)]
        who += [f"group {g}" for g in sorted(policy.exempt.groups)]
        rows.append(("exempt", ", ".join(who)))
    return rows


def _bool(value: bool) -> str:
    return "true" if value else "false"


def render(ref: str, ex: Explanation) -> str:
    """The text ``canarist policy explain`` prints."""
    lines = [f"Deployment {ref}"]
    lines.append(f"Managed:  {'yes' if ex.managed else 'no'} ({ex.why})")
    policy = ex.policy
    lines.append(f"Policy:   {f'{policy.name} ({policy.path})' if policy else 'none'}")
    if policy is not None:
        rows = rule_lines(policy)
        width = max(len(k) for k, _ in rows)
        lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    head = ("SETTING", "VALUE", "SOURCE")
    rows_s = [head, *((s.name, s.value, s.source) for s in ex.settings)]
    w0 = max(len(r[0]) for r in rows_s)
    w1 = max(len(r[1]) for r in rows_s)
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows_s]
    if ex.problems:
        lines.append("")
        lines.append("The effective annotations are invalid (admission denies changes):")
        lines += [f"  {p}" for p in ex.problems]
    return "\n".join(lines) + "\n"
