"""``canarist render``: the objects at a step, for each router, through the CLI; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from webhook.cli import main
from webhook.errors import ConfigError, InvalidInput
from webhook.release.render import render

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {canarist.io/enabled: "true"}
  annotations:
    canarist.io/traffic-router: ROUTER
    OPTIONS
    canarist.io/steps: |
      - setWeight: 20
      - setHeaderRoute: {name: beta, match: [{headerName: X-Canary, headerValue: {exact: "1"}}]}
      - pause: {}
      - setWeight: 50
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, rollouts-pod-template-hash: oldhash123}}
    spec: {containers: [{name: app, image: "demo:v2"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""
VIRTUAL_SERVICE = """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - name: primary
    route: [{destination: {host: web}}]
"""
HTTP_ROUTE = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"""


def manifest(router: str, options: str = "", extra: str = "") -> str:
    return DEPLOYMENT.replace("ROUTER", router).replace("OPTIONS", options) + extra


def docs(text: str) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text)}


def test_istio_at_the_header_step() -> None:
    out = docs(
        render(
            manifest("istio", "canarist.io/istio-virtual-service: web:primary", VIRTUAL_SERVICE),
            step=2,
        )
    )
    deployment = out[("Deployment", "web")]
    assert deployment["spec"]["paused"] is True
    new = deployment["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"]
    assert new != "oldhash123"
    status = json.loads(deployment["metadata"]["annotations"]["canarist.io/status"])
    assert (status["step"], status["weight"], status["phase"]) == (2, 20, "Paused")
    assert status["stableHash"] == "oldhash123" and status["canaryHash"] == new
    assert out[("Service", "web")]["spec"]["selector"] == {
        "app": "web",
        "rollouts-pod-template-hash": "oldhash123",
    }
    assert out[("Service", "web-canary")]["spec"]["selector"] == {
        "app": "web",
        "rollouts-pod-template-hash": new,
    }
    assert out[("Deployment", "web-canary")]["spec"]["replicas"] == 1
    http = out[("VirtualService", "web")]["spec"]["http"]
    assert [r["name"] for r in http] == ["beta", "primary"]
    assert [d["weight"] for d in http[1]["route"]] == [80, 20]


def test_gateway_api_at_a_weight_and_a_given_stable_hash() -> None:
    out = docs(
        render(
            manifest("gateway-api", "canarist.io/http-route: web", HTTP_ROUTE),
            weight=50,
            stable_hash="s1",
        )
    )
    refs = out[("HTTPRoute", "web")]["spec"]["rules"][0]["backendRefs"]
    assert {r["name"]: r["weight"] for r in refs} == {"web": 50, "web-canary": 50}
    assert out[("Service", "web")]["spec"]["selector"]["rollouts-pod-template-hash"] == "s1"
    assert out[("Deployment", "web-canary")]["spec"]["replicas"] == 2


def test_router_none_never_pins_the_users_service() -> None:
    text = manifest("none").replace(
        "- setHeaderRoute: {name: beta, match: "
        '[{headerName: X-Canary, headerValue: {exact: "1"}}]}\n      ',
        "",
    )
    out = docs(render(text, step=0))
    assert ("Service", "web") not in out  # unchanged, so not printed
    assert out[("Deployment", "web-canary")]["spec"]["replicas"] == 1  # 1 of 5 pods: 20%
    assert out[("Deployment", "web")]["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("router", "options", "step", "counts"),
    [
        # dynamic stable scale: the R = 4 at 25% and 75% (stable, canary)
        ("proxy", "canarist.io/dynamic-stable-scale: 'true'", 0, (3, 1)),
        ("proxy", "canarist.io/dynamic-stable-scale: 'true'", 2, (1, 3)),
        # without it the stable pods stay at R
        ("proxy", "", 2, (4, 3)),
        # router none (Argo's basic canary): 1 of 4 pods, then 3 of 4
        ("none", "", 0, (3, 1)),
        ("none", "", 2, (1, 3)),
    ],
)
def test_the_stable_count_per_step(
    router: str, options: str, step: int, counts: tuple[int, int]
) -> None:
    text = manifest(router, options).replace(
        "- setHeaderRoute: {name: beta, match: "
        '[{headerName: X-Canary, headerValue: {exact: "1"}}]}\n      ',
        "",
    )
    text = text.replace("setWeight: 20", "setWeight: 25").replace("setWeight: 50", "setWeight: 75")
    out = docs(render(text, step=step))
    deployment, canary = out[("Deployment", "web")], out[("Deployment", "web-canary")]
    assert (deployment["spec"]["replicas"], canary["spec"]["replicas"]) == counts
    status = json.loads(deployment["metadata"]["annotations"]["canarist.io/status"])
    if counts[0] != 4:
        assert status["replicas"] == 4  # the user's count, kept while canarist lowers it


def test_a_template_without_an_old_label_renders_against_stable() -> None:
    text = manifest("smi").replace("rollouts-pod-template-hash: oldhash123", "x: y")
    text = text.replace(
        "- setHeaderRoute: {name: beta, match: "
        '[{headerName: X-Canary, headerValue: {exact: "1"}}]}\n      ',
        "",
    )
    out = docs(render(text))
    assert out[("Service", "web")]["spec"]["selector"]["rollouts-pod-template-hash"] == "stable"
    split = out[("TrafficSplit", "web")]["spec"]["backends"]
    assert {b["service"]: b["weight"] for b in split} == {"web-canary": 20, "web": 80}


@pytest.mark.parametrize(
    ("text", "kw", "message"),
    [
        ("kind: [", {}, "FILE[0]: YAML does not parse at line 1, column 8"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", {}, "no Deployment"),
        ("- 1\n", {}, "FILE[0] (line 1): must be an object"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: {a: 1}}\n", {},
         "FILE[0] (line 1).metadata.labels.a: must be a string, got int"),
        (
            manifest("istio", "canarist.io/istio-virtual-service: web", VIRTUAL_SERVICE),
            {"step": 4},
            "has steps 0..3, got 4",
        ),
        (
            manifest("istio", "canarist.io/istio-virtual-service: web", VIRTUAL_SERVICE),
            {"weight": 101},
            "between 0 and 100",
        ),
    ],
)
def test_bad_input_is_refused(text: str, kw: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as err:
        render(text, **kw)
    assert message in str(err.value)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(manifest("istio", "canarist.io/istio-virtual-service: web", VIRTUAL_SERVICE))
    assert main(["render", "-f", str(path), "--step", "0"]) == 0
    out = docs(capsys.readouterr().out)
    assert ("VirtualService", "web") in out
    assert main(["render", "-f", str(path), "--step", "7"]) == 2
    assert "--step: Deployment web has steps 0..3, got 7" in capsys.readouterr().err


DESTINATION_RULE = """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - name: primary
    route: [{destination: {host: web, subset: stable}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-dr, namespace: shop}
spec:
  host: web
  subsets: [{name: stable, labels: {app: web}}, {name: canary, labels: {app: web}}]
"""


def test_istio_subset_level_shows_the_service_untouched_and_no_canary_service() -> None:
    """As the live run (issue 8, defect 2): only the DestinationRule carries the hashes."""
    options = "canarist.io/istio-virtual-service: web:primary\n    " \
              "canarist.io/istio-destination-rule: web-dr"
    out = docs(render(manifest("istio", options, DESTINATION_RULE), step=0))
    assert ("Service", "web") not in out and ("Service", "web-canary") not in out
    rule = out[("DestinationRule", "web-dr")]
    subsets = {s["name"]: s["labels"] for s in rule["spec"]["subsets"]}
    assert subsets["stable"]["rollouts-pod-template-hash"] == "oldhash123"
    assert subsets["canary"]["rollouts-pod-template-hash"] != "oldhash123"


def test_a_nodeport_stable_service_gets_a_nodeport_canary_service() -> None:
    text = manifest("alb", "canarist.io/alb-ingress: web\n    canarist.io/alb-service-port: '80'")
    text = text.replace("spec: {selector: {app: web}, ports: [{port: 80}]}",
                        "spec: {type: NodePort, selector: {app: web}, "
                        "ports: [{port: 80, nodePort: 30080}]}")
    text += """
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - http:
      paths:
      - {path: /*, pathType: ImplementationSpecific,
         backend: {service: {name: web, port: {name: use-annotation}}}}
"""
    canary = docs(render(text, step=0))[("Service", "web-canary")]
    assert canary["spec"]["type"] == "NodePort"
    assert canary["spec"]["ports"] == [{"port": 80}]


def test_smi_renders_the_version_the_cluster_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the live run (issue 8, defect 3): the newest version the CRD serves, here told by
    --api-versions (or by the CRD in the file), with the root Service."""
    text = "\n".join(
        line for line in manifest("smi", "canarist.io/smi-root-service: apex").splitlines()
        if "setHeaderRoute" not in line
    )
    path = tmp_path / "d.yaml"
    path.write_text(text)
    assert main(["render", "-f", str(path), "--step", "0",
                 "--api-versions", "split.smi-spec.io/v1alpha1,split.smi-spec.io/v1alpha2"]) == 0
    split = docs(capsys.readouterr().out)[("TrafficSplit", "web")]
    assert split["apiVersion"] == "split.smi-spec.io/v1alpha2"
    assert split["spec"]["service"] == "apex"
    crd = (Path(__file__).parent.parent / "data" / "crds-old" /
           "linkerd-smi.trafficsplit.crd.yaml").read_text()
    split = docs(render(text + "\n---\n" + crd, step=0))[("TrafficSplit", "web")]
    assert split["apiVersion"] == "split.smi-spec.io/v1alpha2"
    assert docs(render(text, step=0))[("TrafficSplit", "web")]["apiVersion"].endswith("v1alpha4")
    with pytest.raises(ConfigError, match=r"--api-versions\[0\]: must be GROUP/VERSION"):
        render(text, api_versions=["v1alpha2"])


def test_gateway_api_renders_no_rule_names_for_a_crd_without_them() -> None:
    """As the live run (issue 8, defect 4): with the cluster's HTTPRoute CRD in the file (here
    Gateway API v1.1's), the header rule is written without the name the CRD would drop."""
    text = manifest("gateway-api", "canarist.io/http-route: web", HTTP_ROUTE)
    rules = docs(render(text, step=2))[("HTTPRoute", "web")]["spec"]["rules"]
    assert [r.get("name") for r in rules] == [None, "beta"]
    crd = (Path(__file__).parent.parent / "data" / "crds-old" /
           "gateway-api-v1.1.0.httproutes.yaml").read_text()
    route = docs(render(text + "\n---\n" + crd, step=2))[("HTTPRoute", "web")]
    assert [r.get("name") for r in route["spec"]["rules"]] == [None, None]
    shapes = json.loads(route["metadata"]["annotations"]["canarist.io/managed-by"])["web"]
    assert list(shapes["shapes"]) == ["beta"]


P = "nginx.ingress.kubernetes.io/"
NGINX_INGRESS = """
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
"""


def test_nginx_static_header_at_weight_0_and_sticky_affinity() -> None:
    """As the live run (issue 8, defects 5 and 10): at a weight-0 step the canary Ingress
    exists for the static header; sticky is cookie affinity on both Ingresses."""
    options = (
        "canarist.io/nginx-ingress: web\n    "
        "canarist.io/nginx-annotations: '{\"canary-by-header\": \"X-Static\"}'\n    "
        "canarist.io/sticky: 'true; max-age=2h'"
    )
    text = manifest("nginx", options, NGINX_INGRESS).replace(
        "      - setWeight: 20\n", "      - setCanaryScale: {replicas: 1}\n", 1
    )
    out = docs(render(text, step=0))
    canary = out[("Ingress", "web-web-canary")]["metadata"]["annotations"]
    assert canary[P + "canary-weight"] == "0" and canary[P + "canary-by-header"] == "X-Static"
    assert P + "canary-by-cookie" not in canary
    stable = out[("Ingress", "web")]["metadata"]["annotations"]
    for ann in (canary, stable):
        assert ann[P + "affinity"] == "cookie" and ann[P + "session-cookie-max-age"] == "7200"
