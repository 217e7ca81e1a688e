"""Prometheus text exposition of the webhook's own metrics (no client library needed).

- ``canarist_webhook_reviews_total{outcome}``: allowed, mutated, denied, bad_request, too_large,
  error.
- ``canarist_webhook_review_duration_seconds``: histogram of the time from the request's first
  byte being read by the handler to the response being ready.
- ``canarist_webhook_certificate_*``: expiry of the certificate being served, reloads, failed
  reloads (alert on expiry well before it happens).
- with cluster policies: ``canarist_policies`` (in force), ``canarist_policy_document_valid``
  (0 after a refused document: the last good one stays), ``canarist_policy_loads_total{result}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.policy import PolicyStore
from webhook.prometheus import Histogram

OUTCOMES = ("allowed", "mutated", "denied", "bad_request", "too_large", "error")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class CertInfo:
    not_after: float
    reloads: int
    failures: int


class Metrics:
    def __init__(self) -> None:
        self.reviews = dict.fromkeys(OUTCOMES, 0)
        self.latency = Histogram(BUCKETS)

    def observe(self, outcome: str, seconds: float) -> None:
        self.reviews[outcome] = self.reviews.get(outcome, 0) + 1
        self.latency.observe(seconds)

    def render(self, cert: CertInfo | None = None, policies: PolicyStore | None = None) -> str:
        lines = [
            "# HELP canarist_webhook_reviews_total AdmissionReviews answered, by outcome.",
            "# TYPE canarist_webhook_reviews_total counter",
        ]
        lines += [
            f'canarist_webhook_reviews_total{{outcome="{k}"}} {v}' for k, v in self.reviews.items()
        ]
        name = "canarist_webhook_review_duration_seconds"
        lines += [
            f"# HELP {name} Time to answer an AdmissionReview.",
            f"# TYPE {name} histogram",
            *self.latency.render(name),
        ]
        if cert is not None:
            prefix = "canarist_webhook_certificate"
            lines += [
                f"# HELP {prefix}_expiry_timestamp_seconds Expiry of the serving certificate.",
                f"# TYPE {prefix}_expiry_timestamp_seconds gauge",
                f"{prefix}_expiry_timestamp_seconds {cert.not_after:.0f}",
                f"# HELP {prefix}_reloads_total Certificate reloads from changed files.",
                f"# TYPE {prefix}_reloads_total counter",
                f"{prefix}_reloads_total {cert.reloads}",
                f"# HELP {prefix}_reload_failures_total Changed files that did not load.",
                f"# TYPE {prefix}_reload_failures_total counter",
                f"{prefix}_reload_failures_total {cert.failures}",
            ]
        if policies is not None:
            lines += [
                "# HELP canarist_policies Cluster policies in force.",
                "# TYPE canarist_policies gauge",
                f"canarist_policies {len(policies.policies)}",
                "# HELP canarist_policy_document_valid 0 when the last policy document was "
                "refused.",
                "# TYPE canarist_policy_document_valid gauge",
                f"canarist_policy_document_valid {int(policies.valid)}",
                "# HELP canarist_policy_loads_total Policy documents accepted or refused.",
                "# TYPE canarist_policy_loads_total counter",
                *(f'canarist_policy_loads_total{{result="{r}"}} {n}'
                  for r, n in policies.loads.items()),
            ]
        return "\n".join(lines) + "\n"
