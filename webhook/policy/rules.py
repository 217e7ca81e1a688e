"""Guardrails: a policy's ``rules`` checked against a Deployment's effective canary spec.

Every violation is a ``Problem`` whose path is the annotation (and step) at fault and whose
message names the policy and the rule, e.g.
``canarist.io/steps[2].setWeight: raises the weight by 40 (from 10 to 50); policy team-a allows
at most 25 (rules.maxWeightIncrease)``. The same sentences serve admission (a denial), the
reconciler and the CLI (a refused ``promote-full``), and ``canarist validate``.

What each rule reads (the implicit promotion to 100 after the last step is not a step):

- ``maxWeightIncrease``: each ``setWeight`` against the weight before it (0 at the start);
- ``minPause``: after every ``setWeight`` that raises the weight, a ``pause`` at least this long
  (``pause: {}``, waiting for a promote, is long enough) before the next increase or the end;
- ``requireAnalysis``: a background analysis (``canarist.io/analysis`` with ``background``) or
  an ``analysis`` step;
- ``allowedRouters``: every router of ``canarist.io/traffic-router``;
- ``allowPromoteFull``: the ``promote-full`` action;
- ``maxConcurrentReleases``: decided by the reconciler (``waiting_message``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from webhook.errors import Problem
from webhook.policy.model import ClusterPolicy
from webhook.spec import names as n
from webhook.spec.canary import Action, CanarySpec
from webhook.spec.durations import format_duration
from webhook.spec.steps import AnalysisStep, Pause, SetWeight, Step


def violations(spec: CanarySpec, policy: ClusterPolicy) -> list[Problem]:
    """Every rule of ``policy`` that ``spec`` breaks (the action included)."""
    rules = policy.rules
    found: list[Problem] = []
    if rules.max_weight_increase is not None:
        found += _weight_increases(spec.steps, policy, rules.max_weight_increase)
    if rules.min_pause is not None:
        found += _pauses(spec.steps, policy, rules.min_pause)
    if rules.require_analysis and not has_analysis(spec):
        found.append(
            Problem(
                n.ANALYSIS,
                f"is required: policy {policy.name} requires a background analysis or an "
                f"analysis step (rules.requireAnalysis)",
            )
        )
    if rules.allowed_routers is not None:
        found += _routers(spec.routers, policy, rules.allowed_routers)
    if spec.action is Action.PROMOTE_FULL and not rules.allow_promote_full:
        found.append(Problem(n.ACTION, promote_full_refusal(policy)))
    return found


def rule_of(problem: Problem) -> str:
    """The rule a violation names: ``rules.maxWeightIncrease``..."""
    found = _RULE.search(problem.message)
    return found.group(1) if found else "rules"


_RULE = re.compile(r"\((rules\.[A-Za-z]+)")


def has_analysis(spec: CanarySpec) -> bool:
    background = spec.analysis is not None and spec.analysis.background
    return background or any(isinstance(s, AnalysisStep) for s in spec.steps)


def promote_full_refusal(policy: ClusterPolicy | None) -> str:
    """Why ``promote-full`` is refused under ``policy``; empty when it is allowed."""
    if policy is None or policy.rules.allow_promote_full:
        return ""
    return (
        f"promote-full is not allowed: policy {policy.name} forbids skipping the remaining "
        f"steps (rules.allowPromoteFull: false)"
    )


def waiting_message(policy: ClusterPolicy, running: Sequence[str]) -> str:
    """The status message of a release queued by ``maxConcurrentReleases``."""
    limit = policy.rules.max_concurrent_releases
    shown = ", ".join(running[:5]) + (f" and {len(running) - 5} more" if len(running) > 5 else "")
    return (
        f"waiting to start: policy {policy.name} allows {limit} release"
        f"{'' if limit == 1 else 's'} at once (rules.maxConcurrentReleases); running: {shown}"
    )


def _weight_increases(
    steps: Sequence[Step], policy: ClusterPolicy, limit: int
) -> Iterable[Problem]:
    weight = 0
    for i, step in enumerate(steps):
        if not isinstance(step, SetWeight):
            continue
        rise = step.weight - weight
        if rise > limit:
            yield Problem(
                f"{n.STEPS}[{i}].setWeight",
                f"raises the weight by {rise} (from {weight} to {step.weight}); policy "
                f"{policy.name} allows at most {limit} (rules.maxWeightIncrease)",
            )
        weight = step.weight


def _pauses(steps: Sequence[Step], policy: ClusterPolicy, minimum: float) -> Iterable[Problem]:
    """After each weight increase, the longest pause before the next increase (or the end)."""
    weight = 0
    rises = []  # (index, weight) of the steps that raise the weight
    for i, step in enumerate(steps):
        if isinstance(step, SetWeight):
            if step.weight > weight:
                rises.append((i, step.weight))
            weight = step.weight
    bounds = [i for i, _ in rises[1:]] + [len(steps)]
    need = format_duration(minimum)
    for (start, to), end in zip(rises, bounds, strict=True):
        pauses = [(j, s) for j, s in enumerate(steps[start + 1 : end], start + 1)
                  if isinstance(s, Pause)]
        if any(p.duration is None or p.duration >= minimum for _, p in pauses):
            continue
        if not pauses:
            yield Problem(
                f"{n.STEPS}[{start}].setWeight",
                f"raises the weight to {to} with no pause after it; policy {policy.name} "
                f"requires a pause of at least {need} after every weight increase "
                f"(rules.minPause)",
            )
            continue
        j, longest = max(pauses, key=lambda item: item[1].duration or 0.0)
        got = format_duration(longest.duration or 0.0)
        yield Problem(
            f"{n.STEPS}[{j}].pause.duration",
            f"pauses {got} after the weight rose to {to}; policy {policy.name} requires at "
            f"least {need} (rules.minPause)",
        )


def _routers(
    routers: Sequence[str], policy: ClusterPolicy, allowed: Sequence[str]
) -> Iterable[Problem]:
    for router in routers:
        if router not in allowed:
            yield Problem(
                n.TRAFFIC_ROUTER,
                f'traffic router "{router}" is not allowed; policy {policy.name} allows '
                f"{', '.join(allowed)} (rules.allowedRouters)",
            )
