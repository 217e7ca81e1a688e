"""Rollout fields, traffic routing and the objects around a Rollout: a table each."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from webhook.convert import Source, convert
from webhook.errors import InvalidInput
from webhook.spec import names as n
from webhook.spec import parse_canary_spec

from .helpers import annotations_of, changed, deployments, refused, rollout, run, service

SVC = {"canaryService": "web-canary", "stableService": "web"}


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ({"istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}},
         {n.TRAFFIC_ROUTER: "istio", n.ISTIO_VIRTUAL_SERVICE: "vs:primary"}),
        ({"istio": {"virtualServices": [
            {"name": "a", "routes": ["p"], "tlsRoutes": [{"port": 443}],
             "tcpRoutes": [{"port": 3306}]},
            {"name": "b.other"}],
            "destinationRule": {"name": "dr", "canarySubsetName": "c", "stableSubsetName": "s"}}},
         {n.TRAFFIC_ROUTER: "istio", n.ISTIO_VIRTUAL_SERVICE: "a:p,tls:443,tcp:3306;b.other",
          n.ISTIO_DESTINATION_RULE: "dr:s,c"}),
        ({"istio": {"virtualService": {"name": "vs"},
                    "destinationRule": {"name": "dr", "canarySubsetName": "canary",
                                        "stableSubsetName": "stable"}}},
         {n.TRAFFIC_ROUTER: "istio", n.ISTIO_VIRTUAL_SERVICE: "vs",
          n.ISTIO_DESTINATION_RULE: "dr"}),
        ({"nginx": {"stableIngresses": ["a", "b"],
                    "additionalIngressAnnotations": {"canary-by-header": "X-Canary",
                                                     "canary-by-header-value": "yes"},
                    "canaryIngressAnnotations": {"my.org/key": "v"}}},
         {n.TRAFFIC_ROUTER: "nginx", n.NGINX_INGRESS: "a,b", n.NGINX_ANNOTATIONS: json.dumps({
             "my.org/key": "v", "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
             "nginx.ingress.kubernetes.io/canary-by-header-value": "yes"})}),
        ({"alb": {"ingress": "i", "servicePort": 443, "rootService": "root",
                  "stickinessConfig": {"enabled": True, "durationSeconds": 3600}}},
         {n.TRAFFIC_ROUTER: "alb", n.ALB_INGRESS: "i", n.ALB_SERVICE_PORT: "443",
          n.ALB_ROOT_SERVICE: "root", n.STICKY: "true"}),
        ({"alb": {"ingresses": ["a", "b"], "servicePort": 80,
                  "stickinessConfig": {"enabled": True, "durationSeconds": 7200}}},
         {n.TRAFFIC_ROUTER: "alb", n.ALB_INGRESS: "a,b", n.ALB_SERVICE_PORT: "80",
          n.STICKY: "true; max-age=2h"}),
        ({"smi": {"trafficSplitName": "split"}},
         {n.TRAFFIC_ROUTER: "smi", n.TRAFFIC_SPLIT: "split"}),
        ({"smi": {}}, {n.TRAFFIC_ROUTER: "smi"}),
        ({"smi": {"rootService": "root"}}, {n.TRAFFIC_ROUTER: "smi", n.SMI_ROOT_SERVICE: "root"}),
        ({"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "r", "namespace": "shop"}}},
         {n.TRAFFIC_ROUTER: "gateway-api", n.HTTP_ROUTE: "r"}),
        ({"plugins": {"argoproj-labs/gatewayAPI": {"httpRoutes": [
            {"name": "a", "useHeaderRoutes": True}, {"name": "b", "useHeaderRoutes": True}]}}},
         {n.TRAFFIC_ROUTER: "gateway-api", n.HTTP_ROUTE: "a,b"}),
        ({"nginx": {"stableIngress": "i"}, "smi": {}},
         {n.TRAFFIC_ROUTER: "nginx,smi", n.NGINX_INGRESS: "i"}),
        (None, {}),
    ],
)
def test_traffic_routing(routing: dict[str, Any] | None, expected: dict[str, str]) -> None:
    canary: dict[str, Any] = {**SVC, "steps": [{"setWeight": 10}]}
    if routing is not None:
        canary["trafficRouting"] = routing
    conv = run(rollout(canary))
    ann = annotations_of(conv)
    got = {k: v for k, v in ann.items() if k not in (n.STEPS, n.STABLE_SERVICE, n.CANARY_SERVICE)}
    assert got == expected
    assert (ann[n.STABLE_SERVICE], ann[n.CANARY_SERVICE]) == ("web", "web-canary")
    parse_canary_spec(ann, deployment="web")
    assert conv.complete, refused(conv)


@pytest.mark.parametrize(
    ("routing", "why", "kept"),
    [
        ({"ambassador": {"mappings": ["m"]}}, "canarist has no ambassador router", True),
        ({"traefik": {"weightedTraefikServiceName": "t"}}, "no traefik router", True),
        ({"plugins": {"acme/contour": {}}}, "canarist has no plugins (acme/contour)", True),
        ({"nginx": {"stableIngress": "i", "annotationPrefix": "custom.nginx"}},
         "not custom.nginx/", True),
        ({"nginx": {"stableIngress": "i"}, "appMesh": {}}, "no appMesh router", False),
        ({"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "r", "namespace": "other"}}},
         "in the Deployment's namespace (shop), not other", True),
    ],
)
def test_routing_that_does_not_convert(routing, why, kept) -> None:
    conv = run(rollout({**SVC, "trafficRouting": routing}))
    assert any(why in line for line in refused(conv)), refused(conv)
    kinds = [o["kind"] for o in conv.objects]
    assert kinds == (["Rollout"] if kept else ["Deployment"])


def test_deployment_fields_metadata_and_behaviour() -> None:
    r = rollout({**SVC, "trafficRouting": {"smi": {}}, "maxSurge": "50%", "maxUnavailable": 0,
                 "scaleDownDelaySeconds": 90, "abortScaleDownDelaySeconds": 0,
                 "steps": [{"setWeight": 10}]},
                minReadySeconds=5, revisionHistoryLimit=3, progressDeadlineSeconds=120)
    r["metadata"].update(
        labels={"team": "a"}, uid="u-1", resourceVersion="9",
        annotations={"argocd.argoproj.io/sync-wave": "2", "rollout.argoproj.io/revision": "4",
                     "kubectl.kubernetes.io/last-applied-configuration": "{}"})
    r["status"] = {"phase": "Healthy"}
    conv = run(r)
    (d,) = deployments(conv)
    assert d["metadata"]["labels"] == {"team": "a", n.ENABLED_LABEL: "true"}
    assert "uid" not in d["metadata"] and "status" not in d
    assert d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"
    assert "rollout.argoproj.io/revision" not in d["metadata"]["annotations"]
    spec = d["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}}
    assert (spec["replicas"], spec["minReadySeconds"], spec["revisionHistoryLimit"],
            spec["progressDeadlineSeconds"]) == (4, 5, 3, 120)
    ann = annotations_of(conv)
    assert (ann[n.SCALE_DOWN_DELAY], ann[n.ABORT_SCALE_DOWN_DELAY]) == ("1m30s", "720h")
    assert any("Argo's 0 keeps an aborted canary's pods" in line for line in changed(conv))
    assert [k for k in ann if k.startswith(n.PREFIX)][:2] == [n.STEPS, n.TRAFFIC_ROUTER]


@pytest.mark.parametrize(
    ("canary", "spec", "why"),
    [
        ({"antiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 1}}},
         {}, "topologySpreadConstraints"),
        ({"canaryMetadata": {"labels": {"role": "canary"}}}, {}, "adds no role labels"),
        ({"pingPong": {"pingService": "a", "pongService": "b"}}, {}, "no ping-pong"),
        ({"minPodsPerReplicaSet": 2}, {}, "setCanaryScale"),
        ({"dynamicStableScale": True, "trafficRouting": {"smi": {}}, "magic": 1}, {},
         "unknown field 'magic'"),
        ({}, {"paused": True}, "canarist pause"),
        ({}, {"progressDeadlineAbort": True}, "canarist abort"),
        ({}, {"restartAt": "2024-01-01T00:00:00Z"}, "kubectl rollout restart"),
        ({}, {"rollbackWindow": {"revisions": 2}}, "always a fast rollback"),
    ],
)
def test_fields_that_do_not_convert(canary, spec, why) -> None:
    conv = run(rollout({**SVC, **canary}, **spec))
    assert any(why in line for line in refused(conv)), refused(conv)
    assert [o["kind"] for o in conv.objects] == ["Deployment"]


def test_blue_green_stays_a_rollout_with_its_templates() -> None:
    r = rollout({})
    r["spec"]["strategy"] = {"blueGreen": {"activeService": "a", "prePromotionAnalysis": {
        "templates": [{"templateName": "t"}]}}}
    conv = run(r)
    assert [o["kind"] for o in conv.objects] == ["Rollout"]
    assert any("canarist releases by canary steps" in line for line in refused(conv))


WORKLOAD: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "shop", "labels": {"x": "y"},
                         "resourceVersion": "12"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "app"}},
                     "template": {"metadata": {"labels": {"app": "app"}},
                                  "spec": {"containers": [{"name": "a", "image": "i"}]}}},
            "status": {"replicas": 0}}


def workload_rollout() -> dict[str, Any]:
    r = rollout({"steps": [{"setWeight": 20}], "maxSurge": 1}, replicas=5)
    del r["spec"]["template"], r["spec"]["selector"]
    r["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app",
                                "scaleDown": "onsuccess"}
    return r


def test_workload_ref_annotates_the_deployment_in_place() -> None:
    conv = run(WORKLOAD, workload_rollout())
    (d,) = conv.objects
    assert d["metadata"]["name"] == "app" and d["metadata"]["labels"] == {
        "x": "y", n.ENABLED_LABEL: "true"}
    assert "resourceVersion" not in d["metadata"] and "status" not in d
    assert d["spec"]["replicas"] == 5
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    assert d["spec"]["template"] == WORKLOAD["spec"]["template"]
    assert annotations_of(conv, "app")[n.STEPS] == "- setWeight: 20\n"


def test_workload_ref_without_the_deployment_is_a_merge_patch() -> None:
    conv = run(workload_rollout())
    assert conv.objects == ()
    (line,) = [x for x in changed(conv) if "merge patch" in x]
    command = line.split("apply this merge patch to it: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:7] == ["kubectl", "patch", "deployment", "app", "-n", "shop", "--type"]
    patch = json.loads(argv[-1])
    assert patch == {"metadata": {"labels": {n.ENABLED_LABEL: "true"},
                                  "annotations": {n.STEPS: "- setWeight: 20\n"}},
                     "spec": {"replicas": 5, "strategy": {"rollingUpdate": {"maxSurge": 1}}}}


ARGO_SERVICE = service("web", annotations={
    "argo-rollouts.argoproj.io/managed-by-rollouts": "web"})
ARGO_SERVICE["spec"]["selector"]["rollouts-pod-template-hash"] = "6f7d9c"


def test_what_argo_wrote_into_the_objects_is_taken_out() -> None:
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": "vs", "namespace": "shop"},
          "spec": {"http": [{"name": "hdr", "route": [{"destination": {"host": "web-canary"}}]},
                            {"name": "primary", "route": [{"destination": {"host": "web"}}]}]}}
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
          "metadata": {"name": "dr", "namespace": "shop"},
          "spec": {"host": "web", "subsets": [
              {"name": "stable", "labels": {"app": "web", "rollouts-pod-template-hash": "a"}},
              {"name": "canary", "labels": {"app": "web", "rollouts-pod-template-hash": "b"}}]}}
    canary = {**SVC, "trafficRouting": {
        "managedRoutes": [{"name": "hdr"}],
        "istio": {"virtualService": {"name": "vs"}, "destinationRule": {
            "name": "dr", "canarySubsetName": "canary", "stableSubsetName": "stable"}}}}
    other = service("other", app="other")
    other["spec"]["selector"]["rollouts-pod-template-hash"] = "keep"
    conv = run(ARGO_SERVICE, vs, dr, other, rollout(canary))
    svc, vs_out, dr_out, other_out, _ = conv.objects
    assert svc["spec"]["selector"] == {"app": "web"} and "annotations" not in svc["metadata"]
    assert [r["name"] for r in vs_out["spec"]["http"]] == ["primary"]
    assert [s["labels"] for s in dr_out["spec"]["subsets"]] == [{"app": "web"}, {"app": "web"}]
    assert other_out == other  # not the Rollout's: untouched
    assert len(changed(conv)) == 4
    assert "kubectl patch service web -n shop --type json -p " in changed(conv)[0]


def test_objects_argo_created_are_left_out() -> None:
    canary_ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": {"name": "web-main-canary", "namespace": "shop"}, "spec": {}}
    split = {"apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
             "metadata": {"name": "web", "namespace": "shop", "ownerReferences": [
                 {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web",
                  "uid": "u"}]}, "spec": {}}
    conv = run(canary_ingress, split, rollout({**SVC, "trafficRouting": {
        "nginx": {"stableIngress": "main"}, "smi": {}}}))
    assert [o["kind"] for o in conv.objects] == ["Deployment"]
    assert len([x for x in changed(conv) if "canarist creates its own" in x]) == 2


def test_alb_managed_routes_are_taken_out_and_the_root_action_kept() -> None:
    action = '{"Type":"forward"}'
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "i", "namespace": "shop", "annotations": {
                   "alb.ingress.kubernetes.io/actions.root": action,
                   "alb.ingress.kubernetes.io/actions.hdr": action,
                   "alb.ingress.kubernetes.io/conditions.hdr": "[]",
                   "rollouts.argoproj.io/managed-alb-annotations": "{}"}},
               "spec": {"rules": [{"http": {"paths": [
                   {"path": "/*", "backend": {"service": {"name": "hdr", "port": {
                       "name": "use-annotation"}}}},
                   {"path": "/*", "backend": {"service": {"name": "root", "port": {
                       "name": "use-annotation"}}}}]}}]}}
    conv = run(ingress, rollout({**SVC, "trafficRouting": {
        "managedRoutes": [{"name": "hdr"}],
        "alb": {"ingress": "i", "servicePort": 80, "rootService": "root"}}}))
    out = conv.objects[0]
    assert out["metadata"]["annotations"] == {"alb.ingress.kubernetes.io/actions.root": action}
    assert [p["backend"]["service"]["name"] for p in out["spec"]["rules"][0]["http"]["paths"]] \
        == ["root"]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda r: r["spec"].pop("template"), "in.yaml[0].spec: needs template and selector"),
        (lambda r: r["spec"]["strategy"].update(canary=[]), "in.yaml[0].spec.strategy.canary"),
        (lambda r: r["spec"]["strategy"]["canary"].update(steps={}),
         "in.yaml[0].spec.strategy.canary.steps: must be a list"),
        (lambda r: r["spec"]["strategy"]["canary"].update(steps=[3]),
         "in.yaml[0].spec.strategy.canary.steps[0]: must be a mapping"),
        (lambda r: r["spec"]["strategy"]["canary"].update(stableService="Bad_Name"),
         "in.yaml[0].spec.strategy.canary.stableService: invalid Service name"),
        (lambda r: r["spec"]["strategy"]["canary"].update(trafficRouting={"alb": {"ingress": "i"}}),
         "in.yaml[0].spec.strategy.canary.trafficRouting.alb: needs ingress"),
        (lambda r: r["spec"]["strategy"]["canary"].update(scaleDownDelaySeconds="x"),
         "in.yaml[0].spec.strategy.canary.scaleDownDelaySeconds: must be a number of seconds"),
    ],
)
def test_bad_rollouts_are_bad_input_with_the_path(mutate, where) -> None:
    r = rollout({"steps": [{"setWeight": 10}]})
    mutate(r)
    with pytest.raises(InvalidInput) as exc:
        convert([Source("in.yaml", json.dumps(r))])
    assert any(str(p).startswith(where) for p in exc.value.problems), exc.value.problems


def test_a_weight_out_of_range_becomes_a_pause_with_the_reason() -> None:
    conv = run(rollout({"steps": [{"setWeight": 150}]}))
    assert refused(conv) == [
        "Rollout shop/web: spec.strategy.canary.steps[0]: not convertible: canarist refuses the "
        "step (canarist.io/steps[0].setWeight: must be between 0 and 100, got 150); it becomes "
        "pause: {}; instead: rewrite the step as canarist.io/steps accepts it"]


def test_what_argo_also_refuses_is_bad_input_at_its_field() -> None:
    r = rollout({**SVC, "trafficRouting": {"smi": {}}, "dynamicStableScale": True,
                 "scaleDownDelaySeconds": 5})
    with pytest.raises(InvalidInput) as exc:
        convert([Source("x.yaml", json.dumps(r))])
    assert [str(p) for p in exc.value.problems] == [
        "x.yaml[0].spec.strategy.canary.scaleDownDelaySeconds: cannot be combined with "
        "canarist.io/dynamic-stable-scale: the old pods go as traffic leaves "
        "(as canarist.io/scale-down-delay)"]
