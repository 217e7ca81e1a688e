"""Names the release engine writes on objects it creates or changes.

The Deployment-level annotations live in ``webhook.spec.names``; these are the marks canarist
leaves on Services and on the canary Deployment so that a restarted reconciler (or a human) can
tell what it manages and restore what it changed.
"""

from __future__ import annotations

from webhook.spec.hashing import POD_TEMPLATE_HASH
from webhook.spec.names import CANARY_OF_LABEL, ENABLED_LABEL, HASH_LABEL, MANAGED_BY

# On every object canarist creates or changes: the name of the user's Deployment it acts for.
MANAGED_BY_ANNOTATION = MANAGED_BY
# On a Service canarist changed but did not create: its selector before the first change (JSON),
# restored when the Deployment opts out or is deleted.
ORIGINAL_SELECTOR = "canarist.io/original-selector"
CANARY_SUFFIX = "-canary"
# The Deployment controller's note on a ReplicaSet of the replica count it was last scaled for.
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"

__all__ = [
    "CANARY_OF_LABEL",
    "CANARY_SUFFIX",
    "DESIRED_REPLICAS",
    "ENABLED_LABEL",
    "HASH_LABEL",
    "MANAGED_BY_ANNOTATION",
    "ORIGINAL_SELECTOR",
    "POD_TEMPLATE_HASH",
]
