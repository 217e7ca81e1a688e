"""One row of the list page per release, the filters, and "needs attention" (pure functions).

``summary(deployment, canary)`` is what the list page and ``GET /api/v1/releases`` show of a
release; it does not depend on the time, so it is computed once per change and shared by every
page. What does depend on the time (a release that has sat on one step too long) is decided by
``attention(row, now)`` from the row's ``stuckAt``.

Filters are query parameters, the same for the page's URL and the API: ``ns`` (repeatable),
``phase`` (repeatable), ``policy`` (repeatable), ``attention=1`` and ``q`` (a substring of the
name). Values are checked: an unknown phase is refused with the list of phases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.dashboard.compact import JSON, containers
from webhook.errors import InvalidInput, Problem
from webhook.kube.display import ReleaseView
from webhook.release import timefmt
from webhook.spec import Phase
from webhook.spec.history import History
from webhook.spec.names import HISTORY

STUCK_AFTER = 600.0  # seconds on one step (not a pause) before a release needs attention
PHASES = (*(p.value for p in Phase), "Unknown")
ATTENTION = ("paused", "degraded", "stuck")
MAX_FILTER = 253  # characters of one filter value


def timestamp(text: str | None) -> float | None:
    """Unix seconds of an RFC 3339 time, or ``None``."""
    moment = timefmt.parse(text)
    return None if moment is None else moment.timestamp()


def policy_of(view: ReleaseView) -> str:
    value = view.status.extra.get("policy")
    return value if isinstance(value, str) else ""


def set_weight(view: ReleaseView, history: History) -> int | None:
    """The weight the current step asks for, as the reconciler last recorded it."""
    if history.points and history.release == view.status.canary_hash:
        return history.points[-1].set_weight
    return None


def stuck_at(view: ReleaseView) -> float | None:
    """When a release in progress needs attention for not moving: a blocked release at once,
    one on the same (non-pause) step for ``STUCK_AFTER`` seconds, a promotion as long."""
    s = view.status
    if not view.in_release or s.phase not in (Phase.PROGRESSING, Phase.PROMOTING):
        return None
    since = timestamp(s.step_started_at) or timestamp(s.started_at)
    if s.message.startswith("waiting:"):
        return since or 0.0
    return None if since is None else since + STUCK_AFTER


def summary(deployment: JSON, canary: JSON | None) -> dict[str, Any]:
    view = ReleaseView.of(deployment)
    s = view.status
    meta, spec, status = deployment["metadata"], deployment["spec"], deployment["status"]
    history = History.from_json(meta["annotations"].get(HISTORY))
    row: dict[str, Any] = {
        "key": f"{view.namespace}/{view.name}",
        "namespace": view.namespace,
        "name": view.name,
        "phase": view.phase,
        "message": s.message,
        "step": s.step,
        "steps": s.steps,
        "stepText": view.step,
        "weight": s.weight,
        "setWeight": set_weight(view, history),
        "stableHash": s.stable_hash,
        "canaryHash": s.canary_hash if view.in_release else "",
        "inRelease": view.in_release,
        "aborted": view.aborted,
        "userPaused": view.user_paused,
        "pendingAction": view.pending_action,
        "policy": policy_of(view),
        "startedAt": s.started_at,
        "stepStartedAt": s.step_started_at,
        "stuckAt": stuck_at(view),
        "images": [c["image"] for c in containers(spec["template"])],
        "replicas": {"desired": spec["replicas"], "ready": status["readyReplicas"],
                     "available": status["availableReplicas"]},
        "canary": None,
    }
    if canary is not None:
        row["canary"] = {"desired": canary["spec"]["replicas"],
                         "ready": canary["status"]["readyReplicas"],
                         "available": canary["status"]["availableReplicas"]}
    return row


def attention(row: Mapping[str, Any], now: float) -> list[str]:
    """Why a release needs someone: ``paused``, ``degraded``, ``stuck`` (in that order)."""
    out = []
    if row["phase"] == Phase.PAUSED.value or row["userPaused"]:
        out.append("paused")
    if row["phase"] == Phase.DEGRADED.value:
        out.append("degraded")
    stuck = row.get("stuckAt")
    if isinstance(stuck, int | float) and stuck <= now:
        out.append("stuck")
    return out


@dataclass(frozen=True)
class Filters:
    namespaces: frozenset[str] = frozenset()
    phases: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()
    attention: bool = False
    text: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, Sequence[str]]) -> Filters:
        """From query parameters (each name to its values); ``InvalidInput`` naming the bad one."""
        problems = []
        for name, values in query.items():
            for value in values:
                if len(value) > MAX_FILTER:
                    problems.append(Problem(name, f"longer than {MAX_FILTER} characters"))
        phases = frozenset(v for v in query.get("phase", ()) if v)
        for phase in sorted(phases - set(PHASES)):
            problems.append(Problem("phase", f"unknown phase {phase!r} (phases: "
                                             f"{', '.join(PHASES)})"))
        flag = [v for v in query.get("attention", ()) if v]
        if any(v not in ("1", "true", "0", "false") for v in flag):
            problems.append(Problem("attention", "must be 1 or 0"))
        if problems:
            raise InvalidInput(problems, subject="filters")
        return cls(
            namespaces=frozenset(v for v in query.get("ns", ()) if v),
            phases=phases,
            policies=frozenset(v for v in query.get("policy", ()) if v),
            attention=bool(flag) and flag[-1] in ("1", "true"),
            text=next((v for v in reversed(query.get("q", ())) if v), ""),
        )

    def matches(self, row: Mapping[str, Any], now: float) -> bool:
        if self.namespaces and row["namespace"] not in self.namespaces:
            return False
        if self.phases and row["phase"] not in self.phases:
            return False
        if self.policies and row["policy"] not in self.policies:
            return False
        if self.attention and not attention(row, now):
            return False
        return not self.text or self.text.lower() in row["name"].lower()
