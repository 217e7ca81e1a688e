"""The MutatingWebhookConfiguration entries that let the API server call canarist for policies.

The opt-in label's entry (``objectSelector`` on ``canarist.io/enabled: "true"``) only covers
labelled Deployments. A policy adopts Deployments without the label, and enforces on them, so
the API server must also call the webhook for every Deployment of a policy's namespaces:

- one entry for the namespaces policies name: ``namespaceSelector`` on
  ``kubernetes.io/metadata.name In (...)`` (a label the API server sets on every Namespace, and
  which nobody can change);
- one entry per policy selecting namespaces by label, with that selector (minus the named
  namespaces, already covered).

Both have ``objectSelector`` ``canarist.io/enabled NotIn ("true")``: labelled Deployments come
through the label's entry only, so one write is reviewed once (an UPDATE that adds or removes the
label matches both, as the API server matches the old and the new object; the webhook's answer
is the same either way). System namespaces stay excluded by name. ``canarist up`` registers
these entries; the Helm chart renders the same ones from its ``policies:`` value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from webhook.policy.model import NAME_LABEL, PolicySet
from webhook.spec.names import ENABLED_LABEL

NOT_LABELLED = {"matchExpressions": [{"key": ENABLED_LABEL, "operator": "NotIn",
                                      "values": ["true"]}]}


def entries(
    label_entry: Mapping[str, Any], policies: PolicySet, excluded: Iterable[str]
) -> list[dict[str, Any]]:
    """``label_entry`` (the opt-in label's webhook) followed by the policies' entries."""
    excluded = sorted(set(excluded))
    out = [copy.deepcopy(dict(label_entry))]
    named = sorted(policies.namespace_names - set(excluded))
    base = {k: v for k, v in label_entry.items() if k not in ("name", "objectSelector",
                                                              "namespaceSelector")}
    if named:
        out.append({
            **copy.deepcopy(base),
            "name": "policy-namespaces.canarist.io",
            "namespaceSelector": {"matchExpressions": [
                {"key": NAME_LABEL, "operator": "In", "values": named}]},
            "objectSelector": copy.deepcopy(NOT_LABELLED),
        })
    for policy in policies.policies:
        if policy.namespace_selector is None:
            continue
        selector = policy.namespace_selector.to_dict()
        outside = sorted({*excluded, *named})
        if outside:
            selector.setdefault("matchExpressions", []).append(
                {"key": NAME_LABEL, "operator": "NotIn", "values": outside})
        out.append({
            **copy.deepcopy(base),
            "name": f"policy-{policy.name}.canarist.io",
            "namespaceSelector": selector,
            "objectSelector": copy.deepcopy(NOT_LABELLED),
        })
    return out
