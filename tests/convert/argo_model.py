"""What Argo Rollouts' controller writes at a canary step, per traffic router.

Written from Argo Rollouts' router code and docs (argoproj/argo-rollouts at 9f8d111d8f8e:
rollout/trafficrouting/{istio,nginx,alb,smi}/*, utils/replicaset/canary.go; the Gateway API
plugin argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi at 96c63fd7666a: pkg/plugin/
httproute.go), as summarised in the shapes of its docs. The tests compare ``canarist render``
with these, step by step. Only the fields Argo writes are modelled; the rest of each object is
the user's and must come out as it went in.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

HASH = "rollouts-pod-template-hash"


@dataclass(frozen=True)
class StepState:
    """What Argo has in force while step ``index`` is current (the canary fully available)."""

    weight: int
    canary_replicas: int
    headers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mirrors: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)


def state_at(steps: list[dict[str, Any]], index: int, replicas: int) -> StepState:
    """``reconcileTrafficRouting`` inside the steps: the last setWeight at or before the index
    (GetCurrentSetWeight); header and mirror routes set by steps 0..index and not removed since;
    the canary's replicas from ``CalculateReplicaCountsForTrafficRoutedCanary`` (setCanaryScale
    sticks until matchTrafficWeight)."""
    weight = 0
    scale: dict[str, Any] | None = None
    headers: dict[str, list[dict[str, Any]]] = {}
    mirrors: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for step in steps[: index + 1]:
        if "setWeight" in step:
            weight = step["setWeight"]
        if "setCanaryScale" in step:
            s = step["setCanaryScale"]
            scale = None if s.get("matchTrafficWeight") else s
        if "setHeaderRoute" in step:
            r = step["setHeaderRoute"]
            if r.get("match"):
                headers[r["name"]] = r["match"]
            else:
                headers.pop(r["name"], None)
        if "setMirrorRoute" in step:
            r = step["setMirrorRoute"]
            if r.get("match"):
                mirrors[r["name"]] = (r.get("percentage", 100), r["match"])
            else:
                mirrors.pop(r["name"], None)
    if scale is not None and "replicas" in scale:
        canary = scale["replicas"]
    else:
        share = scale["weight"] if scale is not None else weight
        canary = math.ceil(share * replicas / 100)
    return StepState(weight, canary, headers, mirrors)


def surge_of(max_surge: int | str, replicas: int) -> int:
    """maxSurge as a number of pods (a percentage rounds up, as the Deployment controller's)."""
    if isinstance(max_surge, str) and max_surge.endswith("%"):
        return math.ceil(int(max_surge[:-1]) * replicas / 100)
    return int(max_surge)


def basic_canary(weight: int, replicas: int, surge: int) -> tuple[int, int]:
    """Argo's basic canary (no traffic router), ``(canary, stable)`` once the step's weight is
    reached: of the counts with the weight rounded down or up, out of R pods or (with surge)
    R + 1, the one whose share is closest to the weight; on a tie the larger canary; a canary of
    0 (or all R with R pods) only for weight 0 or 100, or one pod without surge."""
    if replicas == 0:
        return 0, 0
    exact = replicas * weight / 100
    ceil, floor = math.ceil(exact), math.floor(exact)
    zero_ok = weight in (0, 100) or (replicas == 1 and surge == 0)

    def tied(total: int) -> bool:
        return total * weight / 100 % 1 == 0.5

    options = []
    if ceil < replicas or zero_ok:
        options.append((ceil, replicas))
    if not tied(replicas) and (floor != 0 or zero_ok):
        options.append((floor, replicas))
    if surge > 0:
        options.append((ceil, replicas + 1))
        if not tied(replicas + 1) and (floor != 0 or zero_ok):
            options.append((floor, replicas + 1))
    best = min(options, key=lambda o: abs(o[0] * 100 / o[1] - weight))  # the first on a tie
    return best[0], best[1] - best[0]


def _short(host: str) -> str:
    return host.split(".", 1)[0]


def istio_http(vs: dict[str, Any], routes: list[str], stable: str, canary: str,
               state: StepState, subsets: tuple[str, str] | None, managed_routes: list[str]
               ) -> list[dict[str, Any]]:
    """The VirtualService's http routes after SetWeight, SetHeaderRoute and SetMirrorRoute:
    managed routes first, in the order of ``managedRoutes``, then the user's routes with the
    stable and canary destinations weighted 100-W / W."""
    out = []
    weighted = None
    for original in vs["spec"]["http"]:
        route = json.loads(json.dumps(original))
        if not routes or route.get("name") in routes:
            for dest in route["route"]:
                d = dest["destination"]
                if subsets is not None:
                    key = d.get("subset")
                    stable_hit, canary_hit = key == subsets[0], key == subsets[1]
                else:
                    host = _short(d["host"])
                    stable_hit, canary_hit = host == stable, host == canary
                if stable_hit:
                    dest["weight"] = 100 - state.weight
                if canary_hit:
                    dest["weight"] = state.weight
            weighted = weighted or route
        out.append(route)
    assert weighted is not None
    first = weighted["route"][0]["destination"]
    canary_dest: dict[str, Any] = {"host": first["host"] if subsets else canary}
    if subsets:
        canary_dest["subset"] = subsets[1]
    if "port" in first:
        canary_dest["port"] = first["port"]
    managed: list[dict[str, Any]] = []
    for name, matches in state.headers.items():
        managed.append({"name": name, "match": [
            {"headers": {m["headerName"]: m["headerValue"]}} for m in matches],
            "route": [{"destination": canary_dest, "weight": 100}]})
    for name, (percentage, matches) in state.mirrors.items():
        managed.append({"name": name, "match": [_istio_match(m) for m in matches],
                        "route": weighted["route"], "mirror": canary_dest,
                        "mirrorPercentage": {"value": percentage}})
    managed.sort(key=lambda r: managed_routes.index(r["name"]))
    return managed + out


def _istio_match(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "method" in m:
        out["method"] = m["method"]
    if "path" in m:
        out["uri"] = m["path"]  # the Rollout's path is Istio's uri
    if "headers" in m:
        out["headers"] = m["headers"]
    return out


def destination_rule_labels(dr: dict[str, Any], stable_subset: str, canary_subset: str,
                            stable_hash: str, canary_hash: str) -> dict[str, dict[str, str]]:
    """UpdateHash: the two subsets' labels carry the hashes; the rest as written."""
    out = {}
    for subset in dr["spec"]["subsets"]:
        labels = dict(subset.get("labels") or {})
        if subset["name"] == stable_subset:
            labels[HASH] = stable_hash
        if subset["name"] == canary_subset:
            labels[HASH] = canary_hash
        out[subset["name"]] = labels
    return out


def nginx_canary_ingress(stable_ingress: dict[str, Any], rollout: str, stable: str, canary: str,
                         weight: int, extra: dict[str, str]) -> dict[str, Any]:
    """The canary Ingress ``<rollout>-<ingress>-canary``: class and TLS copied, the rules that
    use the stable Service with their backends renamed, the canary annotations."""
    src = stable_ingress
    annotations = {}
    cls = (src["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
    if cls:
        annotations["kubernetes.io/ingress.class"] = cls
    annotations.update(extra)
    annotations["nginx.ingress.kubernetes.io/canary"] = "true"
    annotations["nginx.ingress.kubernetes.io/canary-weight"] = str(weight)
    spec: dict[str, Any] = {}
    for key in ("ingressClassName", "tls"):
        if key in src["spec"]:
            spec[key] = src["spec"][key]
    rules = []
    for original in src["spec"]["rules"]:
        paths = original["http"]["paths"]
        if not any(p["backend"]["service"]["name"] == stable for p in paths):
            continue
        rule = json.loads(json.dumps(original))
        for p in rule["http"]["paths"]:
            if p["backend"]["service"]["name"] == stable:
                p["backend"]["service"]["name"] = canary
        rules.append(rule)
    spec["rules"] = rules
    return {"name": f"{rollout}-{src['metadata']['name']}-canary", "annotations": annotations,
            "spec": spec}


def alb_annotations(root: str, stable: str, canary: str, port: int, state: StepState
                    ) -> dict[str, str]:
    """The action of the root Service (canary first, ServicePort a string, weights summing to
    100) and, per header route, its action and conditions (values of one header merged)."""
    def group(name: str, weight: int) -> str:
        return f'{{"ServiceName":"{name}","ServicePort":"{port}","Weight":{weight}}}'

    out = {f"alb.ingress.kubernetes.io/actions.{root}":
           '{"Type":"forward","ForwardConfig":{"TargetGroups":['
           f"{group(canary, state.weight)},{group(stable, 100 - state.weight)}]}}}}"}
    for name, matches in state.headers.items():
        out[f"alb.ingress.kubernetes.io/actions.{name}"] = (
            '{"Type":"forward","ForwardConfig":{"TargetGroups":['
            f"{group(canary, 100)}]}}}}")
        values: dict[str, list[str]] = {}
        for m in matches:
            values.setdefault(m["headerName"], []).append(m["headerValue"]["exact"])
        out[f"alb.ingress.kubernetes.io/conditions.{name}"] = json.dumps(
            [{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": h, "values": v}}
             for h, v in values.items()], separators=(",", ":"))
    return out


def alb_paths(ingress: dict[str, Any], state: StepState) -> list[list[dict[str, Any]]]:
    """Each rule's paths, a ``use-annotation`` path per header route prepended."""
    out = []
    for rule in ingress["spec"]["rules"]:
        added = [{"path": "/*", "pathType": "ImplementationSpecific", "backend": {"service": {
            "name": name, "port": {"name": "use-annotation"}}}} for name in state.headers]
        out.append(added + rule["http"]["paths"])
    return out


def smi_spec(root: str, stable: str, canary: str, weight: int) -> dict[str, Any]:
    return {"service": root, "backends": [{"service": canary, "weight": weight},
                                          {"service": stable, "weight": 100 - weight}]}


def gateway_rules(route: dict[str, Any], stable: str, canary: str, state: StepState
                  ) -> list[dict[str, Any]]:
    """SetWeight on every rule holding both Services, then one rule per header route and split
    rule: its matches (or none) with the headers added, one backendRef, the canary."""
    rules = []
    for original in route["spec"]["rules"]:
        rule = json.loads(json.dumps(original))
        for ref in rule["backendRefs"]:
            if ref["name"] == stable:
                ref["weight"] = 100 - state.weight
            if ref["name"] == canary:
                ref["weight"] = state.weight
        rules.append(rule)
    for name, matches in state.headers.items():
        headers = [_gateway_header(m) for m in matches]
        for rule in route["spec"]["rules"]:
            names = {r["name"] for r in rule["backendRefs"]}
            if not names & {stable, canary}:
                continue
            port = next(r["port"] for r in rule["backendRefs"] if r["name"] == canary)
            found = rule.get("matches") or [{}]
            rules.append({"name": name,
                          "matches": [{**m, "headers": [*m.get("headers", []), *headers]}
                                      for m in found],
                          "backendRefs": [{"group": "", "kind": "Service", "name": canary,
                                           "port": port}]})
    return rules


def _gateway_header(m: dict[str, Any]) -> dict[str, str]:
    (kind, value), = m["headerValue"].items()
    if kind == "exact":
        return {"name": m["headerName"], "type": "Exact", "value": value}
    if kind == "prefix":
        return {"name": m["headerName"], "type": "RegularExpression", "value": f"{value}.*"}
    return {"name": m["headerName"], "type": "RegularExpression", "value": value}
