"""What a user already runs for each router (the routing objects, as YAML) and the annotations
that point canarist at them; shared by the router tests against the embedded API and the release
end-to-end tests. The Deployment is ``web``, its Services ``web`` and ``web-canary`` (port 80)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UserSetup:
    options: dict[str, str]
    objects: str = ""  # YAML documents, without namespaces


ISTIO = UserSetup(
    {
        "canarist.io/istio-virtual-service": "web:primary",
        "canarist.io/istio-destination-rule": "web-dr",
    },
    """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - name: primary
    route: [{destination: {host: web, subset: stable}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-dr}
spec:
  host: web
  subsets: [{name: stable, labels: {app: web}}, {name: canary, labels: {app: web}}]
""",
)

ISTIO_HOST = UserSetup(
    {"canarist.io/istio-virtual-service": "web:primary"},
    """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - name: primary
    route: [{destination: {host: web}}]
""",
)

NGINX = UserSetup(
    {"canarist.io/nginx-ingress": "web"},
    """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
""",
)

ALB = UserSetup(
    {"canarist.io/alb-ingress": "web", "canarist.io/alb-service-port": "80"},
    """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - {path: /*, pathType: ImplementationSpecific,
         backend: {service: {name: web, port: {name: use-annotation}}}}
""",
)

GATEWAY_API = UserSetup(
    {"canarist.io/http-route": "web"},
    """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
""",
)

SMI = UserSetup({})  # canarist creates the TrafficSplit

PROXY = UserSetup({"canarist.io/proxy-hosts": "shop.example.com"})  # and the route table
