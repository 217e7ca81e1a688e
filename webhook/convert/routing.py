"""``spec.strategy.canary.trafficRouting`` as canarist's router annotations.

istio, nginx, alb, smi and the Gateway API plugin (``argoproj-labs/gatewayAPI``) convert;
ambassador, appMesh, traefik, apisix and other plugins do not (reported, with what to use
instead). ``managedRoutes`` needs no annotation: canarist records the routes it sets on the
objects themselves. The names found here also tell ``objects.py`` which routing objects belong
to the Rollout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.convert.report import Notes
from webhook.spec import names as n
from webhook.spec.durations import format_duration
from webhook.spec.options import STICKY_MAX_AGE
from webhook.spec.problems import Problems, at, index

NGINX_PREFIX = "nginx.ingress.kubernetes.io"
ALB_PREFIX = "alb.ingress.kubernetes.io"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
_ELSEWHERE = ("route through the Gateway API (canarist.io/traffic-router: gateway-api; Emissary, "
              "Traefik, APISIX and most gateways implement it) or canarist's own proxy")
_UNSUPPORTED = {"ambassador": _ELSEWHERE, "appMesh": _ELSEWHERE, "traefik": _ELSEWHERE,
                "apisix": _ELSEWHERE}


@dataclass
class Routing:
    routers: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    managed_routes: list[str] = field(default_factory=list)
    max_weight: int = 100
    virtual_services: list[str] = field(default_factory=list)
    destination_rule: str | None = None
    nginx_ingresses: list[str] = field(default_factory=list)
    alb_ingresses: list[str] = field(default_factory=list)
    alb_root: str | None = None
    http_routes: list[str] = field(default_factory=list)
    traffic_split: str | None = None
    unconvertible: bool = False  # routing was asked for and no router converts


@dataclass
class _Ctx:
    notes: Notes
    subject: str
    problems: Problems
    stable: str | None
    rollout: str
    namespace: str | None
    out: Routing


def _strings(raw: Any, path: str, problems: Problems) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return list(raw)
    problems.add(path, "must be a name or a list of names")
    return []


def _list(raw: Any, path: str, ctx: _Ctx) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.problems.add(path, "must be a list")
        return []
    return raw


def convert_routing(raw: Any, path: str, *, stable: str | None, rollout: str,
                    namespace: str | None, notes: Notes, subject: str, problems: Problems
                    ) -> Routing:
    out = Routing()
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping")
        return out
    ctx = _Ctx(notes, subject, problems, stable, rollout, namespace, out)
    asked = False
    for key, value in raw.items():
        kpath = at(path, key)
        if key in _ROUTERS:
            asked = True
            if isinstance(value, dict):
                _ROUTERS[key](value, kpath, ctx)
            else:
                problems.add(kpath, "must be a mapping")
        elif key in _UNSUPPORTED:
            asked = True
            notes.refused(subject, kpath, f"canarist has no {key} router", _UNSUPPORTED[key])
        elif key == "plugins":
            asked = True
            _plugins(value, kpath, ctx)
        elif key == "managedRoutes":
            _managed(value, kpath, ctx)
        elif key == "maxTrafficWeight":
            _max_weight(value, kpath, ctx)
        else:
            notes.refused(subject, kpath, f"unknown field {key!r} is left out")
    out.unconvertible = asked and not out.routers
    if out.routers:
        out.annotations[n.TRAFFIC_ROUTER] = ",".join(out.routers)
    return out


def _istio(m: Mapping[str, Any], path: str, ctx: _Ctx) -> None:
    refs = []
    if "virtualService" in m:
        refs.append((at(path, "virtualService"), m["virtualService"]))
    for i, vs in enumerate(_list(m.get("virtualServices"), at(path, "virtualServices"), ctx)):
        refs.append((index(at(path, "virtualServices"), i), vs))
    specs = []
    for vpath, vs in refs:
        if not isinstance(vs, dict) or not isinstance(vs.get("name"), str):
            ctx.problems.add(vpath, "must be a mapping with a name")
            continue
        routes = _strings(vs.get("routes") or [], at(vpath, "routes"), ctx.problems)
        for kind, key in (("tls", "tlsRoutes"), ("tcp", "tcpRoutes")):
            for j, r in enumerate(_list(vs.get(key), at(vpath, key), ctx)):
                rpath = index(at(vpath, key), j)
                if not isinstance(r, dict) or not isinstance(r.get("port"), int):
                    ctx.notes.refused(ctx.subject, rpath, "canarist finds TLS and TCP routes "
                                      "by port, and this one has none", "give it a port")
                    continue
                routes.append(f"{kind}:{r['port']}")
                if r.get("sniHosts"):
                    ctx.notes.changed(ctx.subject, at(rpath, "sniHosts"),
                                      "the route is found by its port alone")
        specs.append(vs["name"] + (":" + ",".join(routes) if routes else ""))
        ctx.out.virtual_services.append(vs["name"])
        ctx.notes.converted(ctx.subject, vpath, f"{n.ISTIO_VIRTUAL_SERVICE}: {specs[-1]}")
    dr = m.get("destinationRule")
    if isinstance(dr, dict) and isinstance(dr.get("name"), str):
        stable, canary = dr.get("stableSubsetName", "stable"), dr.get("canarySubsetName", "canary")
        value = dr["name"] + ("" if (stable, canary) == ("stable", "canary")
                              else f":{stable},{canary}")
        ctx.out.annotations[n.ISTIO_DESTINATION_RULE] = value
        ctx.out.destination_rule = dr["name"]
        ctx.notes.converted(ctx.subject, at(path, "destinationRule"),
                            f"{n.ISTIO_DESTINATION_RULE}: {value}")
        if dr.get("additionalSubsetNames"):
            ctx.notes.refused(ctx.subject, at(path, "destinationRule.additionalSubsetNames"),
                              "these subsets served experiments, which canarist has no")
    elif dr is not None:
        ctx.problems.add(at(path, "destinationRule"), "must be a mapping with a name")
    if not specs:
        ctx.problems.add(path, "needs virtualService or virtualServices")
        return
    ctx.out.annotations[n.ISTIO_VIRTUAL_SERVICE] = ";".join(specs)
    ctx.out.routers.append("istio")


def _prefix(m: Mapping[str, Any], default: str, path: str, ctx: _Ctx) -> bool:
    prefix = m.get("annotationPrefix")
    if prefix in (None, "", default):
        return True
    ctx.notes.refused(ctx.subject, at(path, "annotationPrefix"), f"canarist writes {default}/ "
                      f"annotations, not {prefix}/", f"configure the controller for {default}")
    return False


def _nginx(m: Mapping[str, Any], path: str, ctx: _Ctx) -> None:
    ingresses = _strings(m.get("stableIngresses") or m.get("stableIngress") or [],
                         at(path, "stableIngress"), ctx.problems)
    if not ingresses:
        ctx.problems.add(path, "needs stableIngress or stableIngresses")
        return
    if not _prefix(m, NGINX_PREFIX, path, ctx):
        return
    ctx.out.nginx_ingresses = ingresses
    ctx.out.annotations[n.NGINX_INGRESS] = ",".join(ingresses)
    extra: dict[str, str] = {}
    for key in ("additionalIngressAnnotations", "canaryIngressAnnotations"):
        value = m.get(key) or {}
        if not isinstance(value, dict):
            ctx.problems.add(at(path, key), "must be a mapping of strings")
            continue
        for k, v in value.items():
            full = k if "/" in k or key == "canaryIngressAnnotations" else f"{NGINX_PREFIX}/{k}"
            extra[full] = str(v)
        if value:
            ctx.notes.converted(ctx.subject, at(path, key), f"{n.NGINX_ANNOTATIONS}")
    if extra:
        ctx.out.annotations[n.NGINX_ANNOTATIONS] = json.dumps(extra, sort_keys=True)
    ctx.out.routers.append("nginx")
    ctx.notes.converted(ctx.subject, path, f"{n.NGINX_INGRESS}: {','.join(ingresses)}")


def _alb(m: Mapping[str, Any], path: str, ctx: _Ctx) -> None:
    ingresses = _strings(m.get("ingresses") or m.get("ingress") or [], at(path, "ingress"),
                         ctx.problems)
    port = m.get("servicePort")
    if not ingresses or not isinstance(port, int) or isinstance(port, bool):
        ctx.problems.add(path, "needs ingress (or ingresses) and servicePort (a number)")
        return
    if not _prefix(m, ALB_PREFIX, path, ctx):
        return
    ann = ctx.out.annotations
    ann[n.ALB_INGRESS], ann[n.ALB_SERVICE_PORT] = ",".join(ingresses), str(port)
    ctx.out.alb_ingresses = ingresses
    ctx.out.alb_root = m.get("rootService") or ctx.stable
    if m.get("rootService"):
        ann[n.ALB_ROOT_SERVICE] = str(m["rootService"])
    sticky = m.get("stickinessConfig")
    if isinstance(sticky, dict) and sticky.get("enabled") is True:
        seconds = sticky.get("durationSeconds")
        ann[n.STICKY] = "true"
        if isinstance(seconds, int) and not isinstance(seconds, bool) and (
                seconds != STICKY_MAX_AGE):
            ann[n.STICKY] = f"true; max-age={format_duration(seconds)}"
        ctx.notes.converted(ctx.subject, at(path, "stickinessConfig"),
                            f"{n.STICKY}: {ann[n.STICKY]}")
    ctx.out.routers.append("alb")
    ctx.notes.converted(ctx.subject, path, f"{n.ALB_INGRESS}, {n.ALB_SERVICE_PORT}"
                        + (f", {n.ALB_ROOT_SERVICE}" if m.get("rootService") else ""))


def _smi(m: Mapping[str, Any], path: str, ctx: _Ctx) -> None:
    name = m.get("trafficSplitName")
    if name:
        ctx.out.annotations[n.TRAFFIC_SPLIT] = str(name)
    ctx.out.traffic_split = str(name or ctx.rollout)
    root = m.get("rootService")
    if root:
        ctx.out.annotations[n.SMI_ROOT_SERVICE] = str(root)
    ctx.out.routers.append("smi")
    ctx.notes.converted(ctx.subject, path, "traffic router smi"
                        + (f", {n.TRAFFIC_SPLIT}: {name}" if name else "")
                        + (f", {n.SMI_ROOT_SERVICE}: {root}" if root else ""))


def _plugins(raw: Any, path: str, ctx: _Ctx) -> None:
    if not isinstance(raw, dict):
        ctx.problems.add(path, "must be a mapping of plugin names")
        return
    for name, config in raw.items():
        ppath = at(path, name)
        if name != GATEWAY_PLUGIN:
            ctx.notes.refused(ctx.subject, ppath, f"canarist has no plugins ({name})",
                              _ELSEWHERE)
        elif isinstance(config, dict):
            _gateway(config, ppath, ctx)
        else:
            ctx.problems.add(ppath, "must be a mapping")


def _gateway(m: Mapping[str, Any], path: str, ctx: _Ctx) -> None:
    routes = []
    if isinstance(m.get("httpRoute"), str):
        routes.append(m["httpRoute"])
    for i, r in enumerate(_list(m.get("httpRoutes"), at(path, "httpRoutes"), ctx)):
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            routes.append(r["name"])
            if r.get("useHeaderRoutes") is not True:
                ctx.notes.changed(ctx.subject, index(at(path, "httpRoutes"), i),
                                  "canarist adds header routes to every HTTPRoute it splits")
    for key in m:
        if key not in ("httpRoute", "httpRoutes", "namespace", "disableInProgressLabel",
                       "inProgressLabelKey", "inProgressLabelValue"):
            ctx.notes.refused(ctx.subject, at(path, key), f"canarist splits HTTPRoutes only, "
                              f"{key} is left out", "route it through an HTTPRoute")
    namespace = m.get("namespace")
    if namespace and ctx.namespace and namespace != ctx.namespace:
        ctx.notes.refused(ctx.subject, at(path, "namespace"), f"canarist splits HTTPRoutes in "
                          f"the Deployment's namespace ({ctx.namespace}), not {namespace}",
                          "move the HTTPRoute or the Deployment")
        return
    if not routes:
        ctx.notes.refused(ctx.subject, path, "no httpRoute to split", "name an HTTPRoute")
        return
    ctx.out.http_routes = routes
    ctx.out.annotations[n.HTTP_ROUTE] = ",".join(routes)
    ctx.out.routers.append("gateway-api")
    ctx.notes.converted(ctx.subject, path, f"{n.HTTP_ROUTE}: {','.join(routes)}")


def _managed(raw: Any, path: str, ctx: _Ctx) -> None:
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            ctx.out.managed_routes.append(item["name"])
    ctx.notes.converted(ctx.subject, path, "not needed: canarist records the routes its steps "
                        f"set on the objects ({n.MANAGED_BY}) and removes them when a release "
                        "ends")


def _max_weight(raw: Any, path: str, ctx: _Ctx) -> None:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        ctx.problems.add(path, "must be a positive integer")
        return
    ctx.out.max_weight = raw
    if raw != 100:
        ctx.notes.changed(ctx.subject, path, "canarist's weights are percentages: the steps' "
                          "weights are rescaled")


_ROUTERS = {"istio": _istio, "nginx": _nginx, "alb": _alb, "smi": _smi}
