"""Argo Rollouts' own published examples and e2e fixtures (tests/data/argo/, origins in its
README): each converts, passes ``canarist validate``, and ``canarist render`` shows at every
step the weights, routes, replica counts and object shapes Argo's controller writes
(``argo_model.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.convert import Outcome, Source, convert, dump
from webhook.convert.loading import load
from webhook.release.render import render
from webhook.spec import template_hash
from webhook.spec.files import validate_file

from . import argo_model as argo

DATA = Path(__file__).resolve().parent.parent / "data" / "argo"
DATADOG_ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: checkout}
spec:
  replicas: 4
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: app, image: "checkout:1.2", ports: [{containerPort: 8080}]}]}
  strategy:
    canary:
      steps:
      - setWeight: 25
      - analysis:
          templates: [{templateName: loq-error-rate}]
          args: [{name: service-name, value: checkout}]
      - setWeight: 50
---
apiVersion: v1
kind: Service
metadata: {name: checkout}
spec: {selector: {app: checkout}, ports: [{port: 80, targetPort: 8080}]}
"""


PROMETHEUS_QUERY = (
    'sum(irate(istio_requests_total{\n  reporter="source",\n  destination_service=~"canary.NS'
    '.svc.cluster.local",\n  response_code!~"5.*"}[40s])\n) / sum(irate(istio_requests_total{\n'
    '  reporter="source",\n  destination_service=~"canary.NS.svc.cluster.local"}[40s])\n)\n')


@dataclass(frozen=True)
class Case:
    name: str
    router: str  # what to compare: istio, istio-subset, nginx, alb, smi, gateway-api, none
    namespace: str | None = None  # set on every object, as the example's kustomization does
    replace: tuple[tuple[str, str], ...] = ()
    extra: str = ""
    refused: tuple[str, ...] = ()  # the "not convertible" lines expected, by a fragment each
    changed: tuple[str, ...] = ()  # the "changed" lines expected, by a fragment each
    analysis: dict[str, Any] | None = None  # canarist.io/analysis expected

    def sources(self) -> list[Source]:
        out = []
        for path in sorted((DATA / self.name).glob("*.yaml")):
            if path.name in ("kustomization.yaml", "namespace.yaml"):
                continue
            text = path.read_text()
            for old, new in self.replace:
                text = text.replace(old, new)
            if self.namespace:
                docs = [d for d in yaml.safe_load_all(text) if d]
                for d in docs:
                    d["metadata"]["namespace"] = self.namespace
                text = "\n---\n".join(json.dumps(d) for d in docs)
            out.append(Source(str(path.relative_to(DATA)), text))
        if self.extra:
            out.append(Source("test.yaml", self.extra))
        return out


CASES = [
    Case("istio-host-split", "istio"),
    Case("istio-subset-split", "istio-subset"),
    Case("istio-header-route", "istio"),
    Case("istio-mirror-route", "istio"),
    Case("istio-prometheus", "istio", namespace="rollouts-demo-istio",
         refused=("initialDelay",),
         changed=("the value 0.9 itself now passes",),
         analysis={"interval": "20s", "background": True, "startingStep": 1, "metrics": [{
             "name": "success-rate", "min": 0.9, "provider": {"prometheus": {
                 "address": "http://prometheus.istio-system:9090",
                 "query": PROMETHEUS_QUERY.replace("NS", "rollouts-demo-istio")}}}]}),
    Case("nginx", "nginx"),
    Case("nginx-no-steps", "nginx", replace=(("REPLACEME", "nginx-e2e"),)),
    Case("alb", "alb"),
    Case("alb-header-route", "alb"),
    Case("smi", "smi"),
    Case("smi-nginx", "smi"),
    Case("gateway-api", "gateway-api"),
    Case("gateway-api-header", "gateway-api"),
    Case("web-analysis", "none", refused=("canarist's provider has no insecure",),
         changed=("the string '1' is compared as a number",),
         analysis={"interval": "5s", "background": True, "metrics": [{
             "name": "web", "min": 1, "max": 1, "provider": {"web": {
                 "url": "https://kubernetes.default.svc/version", "jsonPath": "$.major"}}}]}),
    Case("datadog", "none", extra=DATADOG_ROLLOUT,
         changed=("v1 API", "Secret 'datadog'", "an interval and no count never ends an Argo step"),
         analysis={"failureLimit": 3, "background": False, "metrics": [{
             "name": "error-rate", "max": 0.01, "provider": {"datadog": {
                 "query": "sum:requests.error.rate{service:checkout}\n"}}}]}),
    Case("job-analysis", "none", refused=(
        "canarist has no job provider", "canarist has no job provider",
        "none of its metrics converts", "no Rollout in the input uses it")),
    Case("secret-args", "none", refused=("read from a Secret", "none of its metrics converts")),
    Case("basic-canary", "none"),
    Case("experiment-step", "none", refused=("canarist has no experiment steps",)),
    Case("notifications", "none", refused=("canarist has no notifications",) * 5),
    Case("workload-ref", "none", changed=("gets the Rollout's replicas (5; it had 0)",)),
]


def _by_kind(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


def _strip(annotations: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (annotations or {}).items() if not k.startswith("canarist.io/")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_example_converts_validates_and_renders_as_argo_writes(case: Case) -> None:
    sources = case.sources()
    conv = convert(sources)
    for outcome, expected in ((Outcome.NOT_CONVERTIBLE, case.refused),
                              (Outcome.CHANGED, case.changed)):
        found = [n.line() for n in conv.notes if n.outcome is outcome]
        assert len(found) == len(expected), found
        for fragment in expected:
            assert any(fragment in line for line in found), (fragment, found)
    text = dump(conv.objects)
    report = validate_file(text)
    assert report.ok, report.text
    assert [d.obj for d in load([Source("out", text)])] == list(conv.objects)  # no aliases
    assert json.loads(dump(conv.objects, "json"))["items"] == list(conv.objects)
    inputs = {(d["kind"], d["metadata"]["name"]): d for s in sources
              for d in yaml.safe_load_all(s.text) if d}
    (ro,) = [d for (kind, _), d in inputs.items() if kind == "Rollout"]
    if case.analysis is not None:
        (d,) = [o for o in conv.objects if o["kind"] == "Deployment"]
        assert yaml.safe_load(d["metadata"]["annotations"]["canarist.io/analysis"]) == \
            case.analysis
    _compare_steps(case, ro, inputs, text)


def _compare_steps(case: Case, ro: dict[str, Any], inputs: dict[tuple[str, str], Any],
                   text: str) -> None:
    canary = ro["spec"]["strategy"]["canary"]
    steps = canary.get("steps") or []
    converted = [d for d in yaml.safe_load_all(text) if d and d["kind"] == "Deployment"]
    deployment = next(d for d in converted if "canarist.io/steps" in d["metadata"]["annotations"])
    name = deployment["metadata"]["name"]
    assert len(yaml.safe_load(deployment["metadata"]["annotations"]["canarist.io/steps"])) == len(
        steps)
    replicas = ro["spec"].get("replicas", 1)
    canary_hash = template_hash(deployment["spec"]["template"])
    for index in range(max(len(steps), 1)):
        # No steps: Argo goes straight to the end of the steps, weight 100.
        out = _by_kind(render(text, step=index) if steps else render(text, weight=100))
        state = (argo.state_at(steps, index, replicas) if steps
                 else argo.StepState(100, replicas))
        where = f"{case.name} step {index}"
        if case.router == "none":
            surge = argo.surge_of(canary.get("maxSurge", "25%"), replicas)
            want = argo.basic_canary(state.weight, replicas, surge)
            got = (out[("Deployment", f"{name}-canary")]["spec"]["replicas"],
                   out[("Deployment", name)]["spec"].get("replicas", 1))
            assert got == want, where
            continue
        assert out[("Deployment", name)]["spec"].get("replicas", 1) == replicas, where
        assert out[("Deployment", f"{name}-canary")]["spec"]["replicas"] == \
            state.canary_replicas, where
        _ROUTERS[case.router](canary, ro, inputs, out, state, canary_hash, where)


def _services(canary, out, canary_hash, where) -> None:
    stable, canary_svc = canary["stableService"], canary["canaryService"]
    assert out[("Service", stable)]["spec"]["selector"][argo.HASH] == "stable", where
    assert out[("Service", canary_svc)]["spec"]["selector"][argo.HASH] == canary_hash, where


def _istio(canary, ro, inputs, out, state, canary_hash, where) -> None:
    istio = canary["trafficRouting"]["istio"]
    vs_ref = istio["virtualService"]
    vs = inputs[("VirtualService", vs_ref["name"])]
    managed = [r["name"] for r in canary["trafficRouting"].get("managedRoutes", [])]
    want = argo.istio_http(vs, vs_ref.get("routes", []), canary["stableService"],
                           canary["canaryService"], state, None, managed)
    got = out[("VirtualService", vs_ref["name"])]["spec"]["http"]
    assert got == want, where
    _services(canary, out, canary_hash, where)


def _istio_subset(canary, ro, inputs, out, state, canary_hash, where) -> None:
    istio = canary["trafficRouting"]["istio"]
    vs_ref, dr_ref = istio["virtualService"], istio["destinationRule"]
    subsets = (dr_ref["stableSubsetName"], dr_ref["canarySubsetName"])
    want = argo.istio_http(inputs[("VirtualService", vs_ref["name"])], vs_ref.get("routes", []),
                           "", "", state, subsets, [])
    assert out[("VirtualService", vs_ref["name"])]["spec"]["http"] == want, where
    dr = out[("DestinationRule", dr_ref["name"])]
    assert {s["name"]: s["labels"] for s in dr["spec"]["subsets"]} == argo.destination_rule_labels(
        inputs[("DestinationRule", dr_ref["name"])], *subsets, "stable", canary_hash), where


def _nginx(canary, ro, inputs, out, state, canary_hash, where) -> None:
    nginx = canary["trafficRouting"]["nginx"]
    stable_ingress = inputs[("Ingress", nginx["stableIngress"])]
    want = argo.nginx_canary_ingress(stable_ingress, ro["metadata"]["name"],
                                     canary["stableService"], canary["canaryService"],
                                     state.weight, nginx.get("additionalIngressAnnotations", {}))
    got = out[("Ingress", want["name"])]
    assert _strip(got["metadata"]["annotations"]) == want["annotations"], where
    assert got["spec"] == want["spec"], where
    assert ("Ingress", nginx["stableIngress"]) not in out, where  # the user's is not touched
    _services(canary, out, canary_hash, where)


def _alb(canary, ro, inputs, out, state, canary_hash, where) -> None:
    alb = canary["trafficRouting"]["alb"]
    root = alb.get("rootService", canary["stableService"])
    ingress = inputs[("Ingress", alb["ingress"])]
    got = out[("Ingress", alb["ingress"])]
    want = {**(ingress["metadata"].get("annotations") or {}),
            **argo.alb_annotations(root, canary["stableService"], canary["canaryService"],
                                   alb["servicePort"], state)}
    assert _strip(got["metadata"]["annotations"]) == want, where
    assert [r["http"]["paths"] for r in got["spec"]["rules"]] == argo.alb_paths(ingress, state)
    _services(canary, out, canary_hash, where)


def _smi(canary, ro, inputs, out, state, canary_hash, where) -> None:
    smi = canary["trafficRouting"]["smi"]
    name = smi.get("trafficSplitName", ro["metadata"]["name"])
    root = smi.get("rootService", canary["stableService"])
    got = out[("TrafficSplit", name)]["spec"]
    assert got == argo.smi_spec(root, canary["stableService"], canary["canaryService"],
                                state.weight), where
    if "nginx" in canary["trafficRouting"]:
        _nginx(canary, ro, inputs, out, state, canary_hash, where)
    _services(canary, out, canary_hash, where)


def _normal_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Defaults the API server fills in (group, kind; weight 1 of a lone backend) written out."""
    refs = [{"group": "", "kind": "Service", **ref} for ref in rule["backendRefs"]]
    if len(refs) == 1 and refs[0].get("weight") == 1:
        del refs[0]["weight"]
    return {**rule, "backendRefs": refs}


def _gateway(canary, ro, inputs, out, state, canary_hash, where) -> None:
    plugin = canary["trafficRouting"]["plugins"]["argoproj-labs/gatewayAPI"]
    name = plugin.get("httpRoute") or plugin["httpRoutes"][0]["name"]
    want = argo.gateway_rules(inputs[("HTTPRoute", name)], canary["stableService"],
                              canary["canaryService"], state)
    got = out[("HTTPRoute", name)]["spec"]["rules"]
    assert [_normal_rule(r) for r in got] == [_normal_rule(r) for r in want], where
    _services(canary, out, canary_hash, where)


_ROUTERS = {"istio": _istio, "istio-subset": _istio_subset, "nginx": _nginx, "alb": _alb,
            "smi": _smi, "gateway-api": _gateway}


def test_every_example_directory_has_a_case() -> None:
    dirs = {p.name for p in DATA.iterdir() if p.is_dir()}
    assert dirs - {c.name for c in CASES} == {"blue-green", "smi-linkerd"}


def test_basic_canary_replica_counts_are_argos() -> None:
    """Argo's basic canary (no traffic router): the canary count closest to weight * R / 100
    (ties up, at least 1), the stable the rest, so the total stays R."""
    case = next(c for c in CASES if c.name == "basic-canary")
    conv = convert(case.sources())
    text = dump(conv.objects)
    counts = []
    for index in (0, 2, 4, 6):
        out = _by_kind(render(text, step=index))
        counts.append((out[("Deployment", "rollout-canary-canary")]["spec"]["replicas"],
                       out[("Deployment", "rollout-canary")]["spec"]["replicas"]))
    assert counts == [(1, 4), (2, 3), (3, 2), (4, 1)]


def test_smi_root_service_renders_as_argo_writes() -> None:
    """Argo's Linkerd example sets smi.rootService; its file does not parse (see smi-linkerd), so
    its Rollout's routing is rebuilt here around the getting-started SMI example's objects."""
    case = next(c for c in CASES if c.name == "smi")
    sources = case.sources()
    text = "\n---\n".join(s.text for s in sources)
    text = text.replace("smi: {}", "smi: {rootService: rollouts-demo}")
    text += "\n---\n" + json.dumps({"apiVersion": "v1", "kind": "Service",
                                    "metadata": {"name": "rollouts-demo"},
                                    "spec": {"selector": {"app": "rollouts-demo"},
                                             "ports": [{"port": 80, "targetPort": "http"}]}})
    conv = convert([Source("smi.yaml", text)])
    assert conv.complete
    out = _by_kind(render(dump(conv.objects), step=0))
    assert out[("TrafficSplit", "rollouts-demo")]["spec"] == argo.smi_spec(
        "rollouts-demo", "rollouts-demo-stable", "rollouts-demo-canary", 5)
