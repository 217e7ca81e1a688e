"""The schema check the router tests rely on does catch what an API server refuses."""

from __future__ import annotations

import pytest

from tests.routers.fixtures import obj
from tests.routers.validation import problems

GOOD = {
    "vs": """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web}
        spec:
          http:
          - name: primary
            route: [{destination: {host: web}, weight: 100}]
            mirrorPercentage: {value: 5.0}
        """,
    "route": """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: web}
        spec:
          rules:
          - backendRefs: [{name: web, port: 80}]
        """,
    "ingress": """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          rules:
          - http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
        """,
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_valid_objects_pass(name: str) -> None:
    assert problems(obj(GOOD[name])) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD["vs"].replace("weight: 100", "weight: '100'"), "must be of type integer"),
        (GOOD["vs"].replace("name: primary", "nam: primary"), "unknown field"),
        (GOOD["vs"].replace("{value: 5.0}", "{value: 5.0, extra: 1}"), "unknown field"),
        (GOOD["vs"].replace("metadata: {name: web}", "metadata: {name: Web}"), "invalid name"),
        (
            GOOD["vs"].replace("metadata: {name: web}", "metadata: {name: web, labelz: {}}"),
            "unknown field of V1ObjectMeta",
        ),
        (GOOD["route"].replace(", port: 80", ""), "needs a port"),
        (
            GOOD["route"].replace(
                "- backendRefs:",
                "- filters: [{type: RequestMirror, requestMirror: {backendRef: {name: c, port: 1},"
                " percent: 5, fraction: {numerator: 1}}}]\n            backendRefs:",
            ),
            "both percent and fraction",
        ),
        (GOOD["route"].replace("- backendRefs", "- name: Bad\n            backendRefs"), "name"),
        (GOOD["ingress"].replace("pathType: Prefix, ", ""), "pathType"),
        (GOOD["ingress"].replace("{number: 80}", "{number: 80, name: http}"), "exactly one"),
        (GOOD["ingress"].replace("name: web, port", "name: Web, port"), "invalid Service name"),
        (GOOD["ingress"].replace("paths:", "pathz:"), "unknown field"),
    ],
)
def test_invalid_objects_are_caught(text: str, needle: str) -> None:
    found = problems(obj(text))
    assert any(needle in p for p in found), found
