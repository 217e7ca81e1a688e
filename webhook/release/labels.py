"""Label selectors (``metav1.LabelSelector``) as the Deployment controller applies them to
ReplicaSets: ``matchLabels`` and ``matchExpressions`` (``In``, ``NotIn``, ``Exists``,
``DoesNotExist``), all of which must hold. A selector that is not an object selects nothing; an
empty one selects everything (``LabelSelectorAsSelector``), which ``getDeploymentsForReplicaSet``
and the controller's sync treat as selecting nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """``selector`` (a Deployment's ``spec.selector``) matches an object with ``labels``."""
    if not isinstance(selector, Mapping):
        return False
    match = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not isinstance(match, Mapping) or not isinstance(exprs, list):
        return False
    if not match and not exprs:
        return False  # {}: "selecting all", which no Deployment controller acts on
    if any(labels.get(str(k)) != str(v) for k, v in match.items()):
        return False
    return all(isinstance(e, Mapping) and _holds(e, labels) for e in exprs)


def _holds(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = str(expr.get("key", "")), expr.get("operator")
    values = {str(v) for v in expr.get("values") or ()}
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False
