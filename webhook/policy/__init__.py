"""Cluster policies: a platform team's canary settings for whole namespaces (DESIGN §1, §8).

Pure: parse a ``policies:`` document (``parse``), find the policy of a Deployment (``model``),
merge its defaults under the Deployment's own annotations and decide who is managed
(``effective``), check the guardrails (``rules``), compare policies (``checks``), explain a
Deployment's settings (``explain``), derive the webhook entries (``webhooks``), and hold the
set in force (``store``). Imports only ``webhook.spec`` and ``webhook.errors``.
"""

from webhook.policy.effective import (
    BypassRecord,
    Management,
    effective_annotations,
    manage,
    parse_effective,
)
from webhook.policy.model import EMPTY, ClusterPolicy, Exempt, PolicySet, Rules
from webhook.policy.parse import parse_policies
from webhook.policy.rules import promote_full_refusal, violations, waiting_message
from webhook.policy.store import Loaded, PolicyStore

__all__ = [
    "EMPTY",
    "BypassRecord",
    "ClusterPolicy",
    "Exempt",
    "Loaded",
    "Management",
    "PolicySet",
    "PolicyStore",
    "Rules",
    "effective_annotations",
    "manage",
    "parse_effective",
    "parse_policies",
    "promote_full_refusal",
    "violations",
    "waiting_message",
]
