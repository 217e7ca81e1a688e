"""hypothesis: generated and mutated Rollout manifests never crash the converter. Either the
output passes canarist's validation, or the input is refused with InvalidInput whose every
problem names the input, the document and the field."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.convert import Source, convert, dump
from webhook.errors import InvalidInput
from webhook.spec.files import validate_file

# CONVERT_FUZZ_EXAMPLES=5000 (with pytest --timeout=1500) for a longer run than the suite's.
EXAMPLES = int(os.environ.get("CONVERT_FUZZ_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
DATA = Path(__file__).resolve().parent.parent / "data" / "argo"
SEEDS = [
    [d for d in yaml.safe_load_all(p.read_text()) if d]
    for name in ("istio-header-route", "istio-mirror-route", "alb-header-route", "smi-nginx",
                 "gateway-api-header", "job-analysis", "workload-ref", "istio-subset-split")
    for p in sorted((DATA / name).glob("*.yaml"))
] + [[d for d in yaml.safe_load_all((DATA / "web-analysis" / f).read_text()) if d]
     for f in ("rollout-background-analysis.yaml", "analysistemplate-web-background.yaml")]
WORDS = ["setWeight", "pause", "duration", "setCanaryScale", "replicas", "weight",
         "matchTrafficWeight", "setHeaderRoute", "setMirrorRoute", "name", "match", "headerName",
         "headerValue", "exact", "prefix", "regex", "percentage", "method", "path", "analysis",
         "templates", "templateName", "clusterScope", "args", "value", "valueFrom", "fieldRef",
         "fieldPath", "podTemplateHashValue", "experiment", "plugin", "trafficRouting", "istio",
         "nginx", "alb", "smi", "plugins", "virtualService", "routes", "stableIngress",
         "ingress", "servicePort", "rootService", "managedRoutes", "canaryService",
         "stableService", "maxTrafficWeight", "metrics", "provider", "prometheus", "query",
         "address", "successCondition", "failureCondition", "interval", "count",
         "failureLimit", "web", "url", "jsonPath", "datadog", "workloadRef", "strategy",
         "canary", "blueGreen", "steps", "metadata", "namespace", "spec", "kind"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.sampled_from(WORDS), st.text(max_size=12),
                    st.sampled_from(["result[0] >= 0.9", "result > 1 && x", "{{args.x}}",
                                     "http://p:9090", "web", "10s", "a(?=b)", "Stable"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)), max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(docs) - 1))
        paths = _paths(docs[i])[1:]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent: Any = docs[i]
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(st.sampled_from(WORDS))] = draw(VALUES)
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]].append(draw(VALUES))
    return docs


def check(text: str) -> None:
    try:
        conv = convert([Source("in.yaml", text)])
    except InvalidInput as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.path.startswith("in.yaml"), p
            assert p.message
        return
    out = dump(conv.objects)
    assert all(n.line() for n in conv.notes)
    if any(o.get("kind") == "Deployment" for o in conv.objects):
        report = validate_file(out)
        assert report.ok or "not opted in" in report.text, report.text
    json.dumps(conv.objects)  # JSON can carry every value written


@SETTINGS
@given(mutated())
def test_mutated_examples_never_crash(docs: list[dict[str, Any]]) -> None:
    check("\n---\n".join(json.dumps(d) for d in docs))


@SETTINGS
@given(st.lists(VALUES, max_size=6), st.sampled_from(["istio", "alb", "nginx", "smi", None]))
def test_generated_steps_never_crash(steps: list[Any], router: str | None) -> None:
    routing = {"istio": {"istio": {"virtualService": {"name": "vs"}}},
               "alb": {"alb": {"ingress": "i", "servicePort": 80}},
               "nginx": {"nginx": {"stableIngress": "i"}}, "smi": {"smi": {}}}
    canary: dict[str, Any] = {"steps": steps, "canaryService": "c", "stableService": "s"}
    if router:
        canary["trafficRouting"] = routing[router]
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "web"},
               "spec": {"selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}},
                        "strategy": {"canary": canary}}}
    check(json.dumps(rollout))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>\n #'\"?,.0")), max_size=80))
def test_arbitrary_text_is_refused_or_converted(text: str) -> None:
    check(text)
