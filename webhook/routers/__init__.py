"""Traffic routers: one module per router behind the ``Router`` protocol of ``base``.

``build_routers(target, client)`` is what the release loop and ``canarist render`` call: the
routers of the Deployment's ``canarist.io/traffic-router``, in that order, each reading and
writing through ``client`` (``webhook.kube`` in a cluster, ``offline.OfflineClient`` for
``render`` and tests). ``state.route_state_at`` says what a step puts in force and
``state.apply_state`` drives one router there.
"""

from __future__ import annotations

from webhook.errors import RouterError
from webhook.kube.protocol import ObjectClient
from webhook.routers.adapter import RouterAdapter
from webhook.routers.alb import ALBRouter
from webhook.routers.base import Owner, ReleaseTarget, Router
from webhook.routers.gateway_api import GatewayAPIRouter
from webhook.routers.istio import IstioRouter
from webhook.routers.nginx import NginxRouter
from webhook.routers.none import NoneRouter
from webhook.routers.proxy import ProxyRouter
from webhook.routers.smi import SMIRouter
from webhook.routers.state import RouteState, apply_state, route_state_at

ROUTER_CLASSES: dict[str, type[RouterAdapter]] = {
    "alb": ALBRouter,
    "nginx": NginxRouter,
    "istio": IstioRouter,
    "gateway-api": GatewayAPIRouter,
    "smi": SMIRouter,
    "proxy": ProxyRouter,
    "none": NoneRouter,
}


def build_routers(target: ReleaseTarget, client: ObjectClient) -> list[Router]:
    """The routers of ``target.spec.routers``, in the order the annotation lists them."""
    routers: list[Router] = []
    for name in target.spec.routers:
        cls = ROUTER_CLASSES.get(name)
        if cls is None:
            raise RouterError(
                f"unknown traffic router {name!r}; known: {', '.join(ROUTER_CLASSES)}"
            )
        routers.append(cls(target, client))
    return routers


__all__ = [
    "ROUTER_CLASSES",
    "Owner",
    "ReleaseTarget",
    "RouteState",
    "Router",
    "apply_state",
    "build_routers",
    "route_state_at",
]
