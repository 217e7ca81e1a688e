"""Every label and annotation name canarist reads or writes."""

from __future__ import annotations

PREFIX = "canarist.io/"

ENABLED_LABEL = "canarist.io/enabled"
HASH_LABEL = "rollouts-pod-template-hash"

STEPS = "canarist.io/steps"
TRAFFIC_ROUTER = "canarist.io/traffic-router"
STABLE_SERVICE = "canarist.io/stable-service"
CANARY_SERVICE = "canarist.io/canary-service"
ISTIO_VIRTUAL_SERVICE = "canarist.io/istio-virtual-service"
ISTIO_DESTINATION_RULE = "canarist.io/istio-destination-rule"
NGINX_INGRESS = "canarist.io/nginx-ingress"
NGINX_ANNOTATIONS = "canarist.io/nginx-annotations"
ALB_INGRESS = "canarist.io/alb-ingress"
ALB_SERVICE_PORT = "canarist.io/alb-service-port"
ALB_ROOT_SERVICE = "canarist.io/alb-root-service"
HTTP_ROUTE = "canarist.io/http-route"
TRAFFIC_SPLIT = "canarist.io/traffic-split"
SMI_ROOT_SERVICE = "canarist.io/smi-root-service"
PROXY_HOSTS = "canarist.io/proxy-hosts"
DYNAMIC_STABLE_SCALE = "canarist.io/dynamic-stable-scale"
SCALE_DOWN_DELAY = "canarist.io/scale-down-delay"
ABORT_SCALE_DOWN_DELAY = "canarist.io/abort-scale-down-delay"
STICKY = "canarist.io/sticky"
ANALYSIS = "canarist.io/analysis"
ACTION = "canarist.io/action"
STATUS = "canarist.io/status"
HISTORY = "canarist.io/history"
# Written by the admission webhook only: the last bypass of a policy by an exempt user.
BYPASS = "canarist.io/bypass"

# Written by kubectl apply; canarist's caches and `convert` leave it out.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Written by canarist on the objects it creates or changes (never by users).
MANAGED_BY = "canarist.io/managed-by"
# On the canary Deployment (and its pods): the user's Deployment it is the canary of.
CANARY_OF_LABEL = "canarist.io/canary-of"
ROUTE_TABLE_LABEL = "canarist.io/route-table"

USER_ANNOTATIONS: tuple[str, ...] = (
    STEPS,
    TRAFFIC_ROUTER,
    STABLE_SERVICE,
    CANARY_SERVICE,
    ISTIO_VIRTUAL_SERVICE,
    ISTIO_DESTINATION_RULE,
    NGINX_INGRESS,
    NGINX_ANNOTATIONS,
    ALB_INGRESS,
    ALB_SERVICE_PORT,
    ALB_ROOT_SERVICE,
    HTTP_ROUTE,
    TRAFFIC_SPLIT,
    SMI_ROOT_SERVICE,
    PROXY_HOSTS,
    DYNAMIC_STABLE_SCALE,
    SCALE_DOWN_DELAY,
    ABORT_SCALE_DOWN_DELAY,
    STICKY,
    ANALYSIS,
    ACTION,
)
KNOWN_ANNOTATIONS: frozenset[str] = frozenset(
    (*USER_ANNOTATIONS, STATUS, HISTORY, MANAGED_BY, BYPASS)
)

# Options that only mean something for one router.
ROUTER_OPTIONS: dict[str, str] = {
    ISTIO_VIRTUAL_SERVICE: "istio",
    ISTIO_DESTINATION_RULE: "istio",
    NGINX_INGRESS: "nginx",
    NGINX_ANNOTATIONS: "nginx",
    ALB_INGRESS: "alb",
    ALB_SERVICE_PORT: "alb",
    ALB_ROOT_SERVICE: "alb",
    HTTP_ROUTE: "gateway-api",
    TRAFFIC_SPLIT: "smi",
    SMI_ROOT_SERVICE: "smi",
    PROXY_HOSTS: "proxy",
}
