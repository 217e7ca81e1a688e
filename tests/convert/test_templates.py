"""Which template a templateRef names, as Argo Rollouts resolves it: ``clusterScope: true`` a
ClusterAnalysisTemplate, otherwise an AnalysisTemplate in the Rollout's namespace."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.spec import names

from .helpers import parsed, refused, rollout, run, template

PROM = {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}


def metric(name: str) -> dict[str, Any]:
    return {"name": name, "successCondition": "result[0] >= 1", "provider": PROM}


def namespaced(namespace: str | None, metric_name: str = "from-shop") -> dict[str, Any]:
    t = template("t", [metric(metric_name)])
    if namespace is None:
        del t["metadata"]["namespace"]
    else:
        t["metadata"]["namespace"] = namespace
    return t


CLUSTER = template("t", [metric("from-cluster")], cluster=True)
NOT_ARGO = {**namespaced("shop", "not-argo"), "apiVersion": "example.com/v1"}


def analysis_step(cluster: bool) -> dict[str, Any]:
    ref: dict[str, Any] = {"templateName": "t"}
    if cluster:
        ref["clusterScope"] = True
    return {"analysis": {"templates": [ref]}}


@pytest.mark.parametrize(
    ("cluster", "inputs", "metric_name", "missing"),
    [
        (False, [namespaced("shop")], "from-shop", ""),
        (False, [namespaced(None)], "from-shop", ""),  # goes wherever the Rollout goes
        (True, [CLUSTER], "from-cluster", ""),
        (False, [CLUSTER, namespaced("shop")], "from-shop", ""),
        (True, [namespaced("shop"), CLUSTER], "from-cluster", ""),
        (False, [CLUSTER],
         None, "AnalysisTemplate 't' in namespace shop is not in the input; the "
               "ClusterAnalysisTemplate 't' is not used: Argo Rollouts reads one only for a "
               "templateRef with clusterScope: true; instead: add clusterScope: true to the "
               "templateRef to use it"),
        (True, [namespaced("shop")],
         None, "ClusterAnalysisTemplate 't' is not in the input; the AnalysisTemplate shop/t is "
               "not used: clusterScope: true names a ClusterAnalysisTemplate; instead: remove "
               "clusterScope: true from the templateRef to use it"),
        (False, [namespaced("other")],
         None, "AnalysisTemplate 't' in namespace shop is not in the input; Argo Rollouts reads "
               "AnalysisTemplates from the Rollout's namespace, not AnalysisTemplate other/t; "
               "instead: move the template to the Rollout's namespace, or make it a "
               "ClusterAnalysisTemplate and set clusterScope: true"),
        (False, [NOT_ARGO],
         None, "AnalysisTemplate 't' in namespace shop is not in the input; instead: convert it "
               "together with the Rollout (-f templates.yaml)"),
    ],
)
def test_a_template_ref_names_the_template_argo_would_read(
        cluster: bool, inputs: list[dict[str, Any]], metric_name: str | None, missing: str
) -> None:
    conv = run(rollout({"steps": [analysis_step(cluster)]}), *inputs)
    if metric_name is not None:
        assert [m["name"] for m in parsed(conv, names.ANALYSIS)["metrics"]] == [metric_name]
        assert not [line for line in refused(conv) if "templates[0]" in line]
        return
    assert parsed(conv, names.STEPS) == [{"pause": {}}]
    assert (f"Rollout shop/web: spec.strategy.canary.steps[0].analysis.templates[0]: not "
            f"convertible: {missing}") in refused(conv)


def test_a_template_is_kept_only_for_the_rollout_that_stays_one() -> None:
    """Two Rollouts named web: shop/web converts with the cluster template; other/web stays a
    Rollout (its workload is no Deployment) and uses none, so the template is not kept."""
    stays = rollout({"steps": [{"setWeight": 10}]}, namespace="other",
                    workloadRef={"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"})
    del stays["spec"]["template"]
    conv = run(rollout({"steps": [analysis_step(True)]}), stays, CLUSTER)
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in conv.objects]
    assert kinds == [("Deployment", "shop"), ("Rollout", "other")]
    assert [n.line() for n in conv.notes
            if n.subject == "ClusterAnalysisTemplate t" and not n.path] == [
        "ClusterAnalysisTemplate t: converted: its metrics are in canarist.io/analysis of "
        "Rollout shop/web"]


def test_a_template_a_staying_rollout_uses_is_kept_for_it() -> None:
    stays = rollout({"steps": [analysis_step(True)]}, namespace="other",
                    workloadRef={"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"})
    del stays["spec"]["template"]
    conv = run(rollout({"steps": [analysis_step(True)]}), stays, CLUSTER)
    assert [o["kind"] for o in conv.objects] == ["Deployment", "Rollout",
                                                 "ClusterAnalysisTemplate"]
    assert [n.line() for n in conv.notes
            if n.subject == "ClusterAnalysisTemplate t" and not n.path] == [
        "ClusterAnalysisTemplate t: converted: kept for Rollout other/web, which stays a Rollout"]
