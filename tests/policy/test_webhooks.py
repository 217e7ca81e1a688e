"""The MutatingWebhookConfiguration entries derived from a policy document."""

from __future__ import annotations

from tests.policy.helpers import policy_set
from webhook.policy import EMPTY
from webhook.policy.webhooks import entries

LABEL_ENTRY = {
    "name": "deployments.canarist.io",
    "clientConfig": {"service": {"name": "w", "namespace": "canarist-system", "path": "/mutate"}},
    "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"],
               "apiVersions": ["v1"], "resources": ["deployments"]}],
    "objectSelector": {"matchLabels": {"canarist.io/enabled": "true"}},
    "namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]},
    "sideEffects": "None",
}


def test_no_policies_keep_the_label_entry_only() -> None:
    assert entries(LABEL_ENTRY, EMPTY, ["kube-system"]) == [LABEL_ENTRY]


def test_named_and_labelled_namespaces_get_entries() -> None:
    ps = policy_set({"name": "a", "namespaces": ["team-b", "team-a", "kube-system-x"]},
                    {"name": "prod", "namespaceSelector": {"matchLabels": {"env": "prod"}}})
    label, named, prod = entries(LABEL_ENTRY, ps, ["kube-system", "canarist-system"])
    assert label == LABEL_ENTRY
    assert named["name"] == "policy-namespaces.canarist.io"
    assert named["namespaceSelector"] == {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "In",
        "values": ["kube-system-x", "team-a", "team-b"]}]}
    assert named["objectSelector"] == {"matchExpressions": [
        {"key": "canarist.io/enabled", "operator": "NotIn", "values": ["true"]}]}
    assert named["clientConfig"] == LABEL_ENTRY["clientConfig"]
    assert named["rules"] == LABEL_ENTRY["rules"] and named["sideEffects"] == "None"
    assert prod["name"] == "policy-prod.canarist.io"
    assert prod["namespaceSelector"] == {
        "matchLabels": {"env": "prod"},
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                              "values": ["canarist-system", "kube-system", "kube-system-x",
                                         "team-a", "team-b"]}]}


def test_excluded_namespaces_are_never_named() -> None:
    ps = policy_set({"name": "a", "namespaces": ["canarist-system"]})
    assert entries(LABEL_ENTRY, ps, ["canarist-system"]) == [LABEL_ENTRY]
