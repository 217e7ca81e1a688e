"""The chart's ``policies:`` value: schema, the ConfigMap the webhook and the reconciler follow,
their roles, the webhook entries for policy namespaces (the same as ``canarist up`` registers,
``webhook.policy.webhooks.entries``), and the guards of namespaced installs."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.chart.render import CHART, NAMESPACE, ci_values, find, render
from tests.chart.test_values_schema import refused
from webhook.policy import parse_policies
from webhook.policy.webhooks import entries

POLICIES: list[dict[str, Any]] = [
    {"name": "checkout", "namespaces": ["checkout", "catalog"], "adopt": True,
     "enforce": True, "selector": {"matchLabels": {"tier": "web"}},
     "defaults": {"traffic-router": "proxy",
                  "steps": "- setWeight: 10\n- pause: {duration: 5m}\n- setWeight: 30\n"
                           "- pause: {}\n"},
     "rules": {"maxWeightIncrease": 20, "minPause": "5m", "allowedRouters": ["proxy"],
               "allowPromoteFull": False, "maxConcurrentReleases": 2},
     "exempt": {"groups": ["platform-admins"], "users": ["alice"]}},
    {"name": "sandbox", "namespaceSelector": {
        "matchLabels": {"env": "sandbox"},
        "matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]},
     "adopt": True},
]


def test_the_configmap_holds_the_document_canarist_reads() -> None:
    objects = render({"policies": POLICIES})
    cm = find(objects, "ConfigMap", "canarist-policies")
    assert cm["metadata"]["namespace"] == NAMESPACE
    ps = parse_policies(cm["data"]["policies.yaml"], "chart")
    assert [p.name for p in ps.policies] == ["checkout", "sandbox"]
    checkout = ps.policies[0]
    assert checkout.rules.min_pause == 300 and checkout.rules.max_concurrent_releases == 2
    assert checkout.exempt.groups == {"platform-admins"} and checkout.enforce
    empty = find(render(), "ConfigMap", "canarist-policies")
    assert len(parse_policies(empty["data"]["policies.yaml"])) == 0


def test_both_components_follow_it_and_may_read_only_it() -> None:
    objects = render({"policies": POLICIES})
    ref = f"--policy-configmap={NAMESPACE}/canarist-policies"
    for name in ("canarist-webhook", "canarist-reconciler"):
        args = find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
            "args"]
        assert ref in args, name
        role = find(objects, "Role", f"{name}-policies")
        assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                                  "resourceNames": ["canarist-policies"],
                                  "verbs": ["list", "watch"]}]
        binding = find(objects, "RoleBinding", f"{name}-policies")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name,
                                        "namespace": NAMESPACE}]
        namespaces = find(objects, "ClusterRole", f"{name}-namespaces")
        assert namespaces["rules"] == [{"apiGroups": [""], "resources": ["namespaces"],
                                        "verbs": ["list", "watch"]}]
    # policies naming their namespaces need no Namespace watch
    named = render({"policies": POLICIES[:1]})
    assert not [o for o in named if o["metadata"]["name"].endswith("-namespaces")]


def test_the_webhook_entries_are_canarists_own() -> None:
    objects = render({"policies": POLICIES, "webhook": {"excludeNamespaces": ["catalog"]}})
    hooks = find(objects, "MutatingWebhookConfiguration", "canarist")["webhooks"]
    label = hooks[0]
    excluded = label["namespaceSelector"]["matchExpressions"][0]["values"]
    ps = parse_policies(find(objects, "ConfigMap", "canarist-policies")["data"]["policies.yaml"])
    assert hooks == entries(label, ps, excluded)
    assert [h["name"] for h in hooks] == ["deployments.canarist.io",
                                         "policy-namespaces.canarist.io",
                                         "policy-sandbox.canarist.io"]
    assert hooks[1]["namespaceSelector"]["matchExpressions"][0]["values"] == ["checkout"]
    assert [h["name"] for h in find(render(), "MutatingWebhookConfiguration", "canarist")[
        "webhooks"]] == ["deployments.canarist.io"]


@pytest.mark.parametrize(("policy", "says"), [
    ({"name": "a", "namespaces": ["x"], "adoptt": True}, "adoptt"),
    ({"name": "a", "namespaces": ["x"], "rules": {"maxWeightIncrease": 0}},
     "/policies/0/rules/maxWeightIncrease"),
    ({"name": "a", "namespaces": ["x"], "rules": {"allowedRouters": ["f5"]}},
     "/policies/0/rules/allowedRouters/0"),
    ({"name": "a", "namespaces": ["x"], "defaults": {"stpes": "[]"}}, "stpes"),
    ({"name": "a", "namespaces": ["x"], "defaults": {"scale-down-delay": 5}},
     "/policies/0/defaults/scale-down-delay"),
    ({"name": "A", "namespaces": ["x"]}, "/policies/0/name"),
    ({"name": "a", "namespaces": ["kube-system"]}, "/policies/0/namespaces/0"),
    ({"name": "a"}, "/policies/0"),
    ({"name": "a", "namespaces": ["x"], "namespaceSelector": {}}, "/policies/0"),
    ({"name": "a", "namespaces": ["x"], "exempt": {"group": ["x"]}}, "group"),
])
def test_bad_policies_are_refused_by_the_schema(policy: dict[str, Any], says: str) -> None:
    assert says in refused({"policies": [policy]})


@pytest.mark.parametrize(("values", "says"), [
    ({"policies": [{"name": "a", "namespaces": ["x"]}, {"name": "a", "namespaces": ["y"]}]},
     'the name "a" is used twice'),
    ({"clusterInstall": False, "watchNamespace": "shop",
      "policies": [{"name": "a", "namespaces": ["other"]}]},
     'policy namespace "other" is not watchNamespace "shop"'),
    ({"clusterInstall": False, "watchNamespace": "shop",
      "policies": [{"name": "a", "namespaceSelector": {"matchLabels": {"x": "y"}}}]},
     "policy a: namespaceSelector needs clusterInstall: true"),
])
def test_template_guards(values: dict[str, Any], says: str) -> None:
    with pytest.raises(helm_python.HelmError) as caught:
        render(values)
    assert says in str(caught.value)


def test_the_shipped_ci_values_render_valid_documents() -> None:
    for name in ("everything-values", "namespaced-values"):
        values = ci_values(CHART / "ci" / f"{name}.yaml")
        cm = find(render(values), "ConfigMap", "canarist-policies")
        assert len(parse_policies(cm["data"]["policies.yaml"])) == len(values["policies"])
