"""Prometheus text exposition of the reconciler's metrics (no client library needed).

- ``canarist_release_phase{namespace,deployment,phase}``: 1 for the Deployment's current phase;
- ``canarist_release_step{namespace,deployment}``: index of the current step;
- ``canarist_release_steps{namespace,deployment}``: number of steps;
- ``canarist_release_weight{namespace,deployment}``: canary weight applied, percent;
- ``canarist_reconcile_duration_seconds``: histogram of one reconcile (plan and writes);
- ``canarist_reconcile_total{result}``: ``ok``, ``requeued`` (API conflict or unavailable),
  ``error`` (a router or the API refused);
- ``canarist_reconcile_writes_total``: API writes issued by plans (router writes not included);
- ``canarist_workqueue_depth``: Deployments waiting for a reconcile;
- ``canarist_policies``: cluster policies in force;
- ``canarist_policy_document_valid``: 0 when the last policy document was refused (the one in
  force stays), else 1;
- ``canarist_policy_loads_total{result}``: policy documents ``accepted`` or ``refused``;
- ``canarist_releases_waiting``: releases waiting for a slot of ``maxConcurrentReleases``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webhook.prometheus import Histogram, escape_label
from webhook.spec import Phase, ReleaseStatus

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RESULTS = ("ok", "requeued", "error")


@dataclass
class Metrics:
    releases: dict[tuple[str, str], ReleaseStatus] = field(default_factory=dict)
    duration: Histogram = field(default_factory=lambda: Histogram(BUCKETS))
    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    writes: int = 0
    queue_depth: int = 0
    policies: int = 0
    policy_valid: bool = True
    policy_loads: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "refused": 0})
    waiting: int = 0

    def set_release(self, namespace: str, name: str, status: ReleaseStatus | None) -> None:
        if status is None or status.phase is None:
            self.releases.pop((namespace, name), None)
        else:
            self.releases[(namespace, name)] = status

    def render(self) -> str:
        lines = [
            "# HELP canarist_release_phase Phase of each release (1 for the current one).",
            "# TYPE canarist_release_phase gauge",
        ]
        gauges: dict[str, list[str]] = {"step": [], "steps": [], "weight": []}
        for (ns, name), status in sorted(self.releases.items()):
            who = f'namespace="{escape_label(ns)}",deployment="{escape_label(name)}"'
            for phase in Phase:
                value = 1 if status.phase == phase else 0
                lines.append(f'canarist_release_phase{{{who},phase="{phase.value}"}} {value}')
            gauges["step"].append(f"canarist_release_step{{{who}}} {status.step}")
            gauges["steps"].append(f"canarist_release_steps{{{who}}} {status.steps}")
            gauges["weight"].append(f"canarist_release_weight{{{who}}} {status.weight}")
        helps = {
            "step": "Index of the current step.",
            "steps": "Number of steps.",
            "weight": "Canary traffic weight applied, percent.",
        }
        for key, values in gauges.items():
            lines += [
                f"# HELP canarist_release_{key} {helps[key]}",
                f"# TYPE canarist_release_{key} gauge",
                *values,
            ]
        lines += [
            "# HELP canarist_reconcile_duration_seconds Time of one reconcile.",
            "# TYPE canarist_reconcile_duration_seconds histogram",
            *self.duration.render("canarist_reconcile_duration_seconds"),
            "# HELP canarist_reconcile_total Reconciles by result.",
            "# TYPE canarist_reconcile_total counter",
            *(f'canarist_reconcile_total{{result="{r}"}} {n}' for r, n in self.results.items()),
            "# HELP canarist_reconcile_writes_total API writes issued by plans.",
            "# TYPE canarist_reconcile_writes_total counter",
            f"canarist_reconcile_writes_total {self.writes}",
            "# HELP canarist_workqueue_depth Deployments waiting for a reconcile.",
            "# TYPE canarist_workqueue_depth gauge",
            f"canarist_workqueue_depth {self.queue_depth}",
            "# HELP canarist_policies Cluster policies in force.",
            "# TYPE canarist_policies gauge",
            f"canarist_policies {self.policies}",
            "# HELP canarist_policy_document_valid 0 when the last policy document was refused.",
            "# TYPE canarist_policy_document_valid gauge",
            f"canarist_policy_document_valid {int(self.policy_valid)}",
            "# HELP canarist_policy_loads_total Policy documents accepted or refused.",
            "# TYPE canarist_policy_loads_total counter",
            *(f'canarist_policy_loads_total{{result="{r}"}} {n}'
              for r, n in self.policy_loads.items()),
            "# HELP canarist_releases_waiting Releases waiting for a slot of their policy.",
            "# TYPE canarist_releases_waiting gauge",
            f"canarist_releases_waiting {self.waiting}",
        ]
        return "\n".join(lines) + "\n"
