"""The canary spec of one Deployment: every ``canarist.io/`` annotation, parsed and validated.

``parse_canary_spec`` never stops at the first problem: it raises one ``SpecError`` listing every
problem with its path (``canarist.io/steps[2].setWeight: must be between 0 and 100, got 150``),
or returns the spec and warnings (options that mean nothing for the chosen routers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from webhook.spec import names as n
from webhook.spec import options as o
from webhook.spec.analysis import Analysis, parse_analysis
from webhook.spec.capabilities import CAPABILITIES, Capability
from webhook.spec.compat import check_metrics_used, check_steps
from webhook.spec.problems import Problems, show, suggest
from webhook.spec.steps import (
    Pause,
    SetWeight,
    Step,
    parse_steps_indexed,
)
from webhook.spec.yamltext import failed, load_yaml

DEFAULT_STEPS: tuple[Step, ...] = (SetWeight(20), Pause(30.0), SetWeight(50), Pause(30.0))
DEFAULT_ROUTERS: tuple[str, ...] = ("none",)
DEFAULT_SCALE_DOWN_DELAY = 30.0
# Routers that honour canarist.io/sticky (cookie affinity or target-group stickiness).
STICKY_ROUTERS = frozenset({"nginx", "alb", "proxy"})


class Action(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    ABORT = "abort"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True)
class CanarySpec:
    steps: tuple[Step, ...] = DEFAULT_STEPS
    routers: tuple[str, ...] = DEFAULT_ROUTERS
    stable_service: str | None = None
    canary_service: str | None = None
    options: o.RouterOptions = field(default_factory=o.RouterOptions)
    dynamic_stable_scale: bool = False
    scale_down_delay: float = DEFAULT_SCALE_DOWN_DELAY
    abort_scale_down_delay: float = DEFAULT_SCALE_DOWN_DELAY
    sticky: o.Sticky | None = None
    analysis: Analysis | None = None
    action: Action | None = None

    def canary_service_for(self, stable: str) -> str:
        return self.canary_service or f"{stable}-canary"

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What every configured router can do."""
        caps = frozenset(Capability)
        for router in self.routers:
            caps &= CAPABILITIES[router]
        return caps

    @property
    def traffic_routed(self) -> bool:
        return self.routers != ("none",)


@dataclass(frozen=True)
class ParsedSpec:
    spec: CanarySpec
    warnings: tuple[str, ...] = ()


def parse_canary_spec(
    annotations: Mapping[str, Any] | None,
    *,
    deployment: str = "",
) -> ParsedSpec:
    """Parse and validate the annotations of one opted-in Deployment.

    A cluster policy's defaults are annotations too: ``webhook.policy`` merges them under the
    Deployment's own before calling this."""
    ann = dict(annotations or {})
    problems = Problems()
    warnings: list[str] = []
    _check_names(ann, problems)
    values = {key: value for key, value in ann.items() if isinstance(value, str)}

    def get(key: str, parse: Callable[[str, str, Problems], Any], default: Any = None) -> Any:
        return parse(values[key], key, problems) if key in values else default

    routers = get(n.TRAFFIC_ROUTER, o.parse_routers, DEFAULT_ROUTERS)
    indexed = _steps(values, problems)
    analysis = _analysis(values, problems)
    stable = get(n.STABLE_SERVICE, o.service_name)
    canary = get(n.CANARY_SERVICE, o.service_name)
    options = _options(values, problems, get)
    dynamic = bool(get(n.DYNAMIC_STABLE_SCALE, o.parse_bool, False))
    # with dynamic stable scale the old pods go as traffic leaves them (Argo: at once)
    scale_down_default = 0.0 if dynamic else DEFAULT_SCALE_DOWN_DELAY
    spec = CanarySpec(
        steps=tuple(step for _, step in indexed),
        routers=routers,
        stable_service=stable,
        canary_service=canary,
        options=options,
        dynamic_stable_scale=dynamic,
        scale_down_delay=get(n.SCALE_DOWN_DELAY, o.parse_delay, scale_down_default),
        abort_scale_down_delay=get(
            n.ABORT_SCALE_DOWN_DELAY, o.parse_delay, DEFAULT_SCALE_DOWN_DELAY
        ),
        sticky=get(n.STICKY, lambda t, p, pr: o.parse_sticky(t, deployment, p, pr)),
        analysis=analysis,
        action=get(n.ACTION, _action),
    )
    _cross_check(spec, values, problems, warnings)
    invalid = spec.analysis is None and n.ANALYSIS in values
    check_steps(spec.routers, spec.analysis, indexed, problems, analysis_invalid=invalid)
    if spec.analysis is not None and n.ANALYSIS in values:
        check_metrics_used(spec.analysis, indexed, problems)
    problems.raise_if_any(subject=f"Deployment {deployment}" if deployment else "")
    return ParsedSpec(spec, tuple(warnings))


def _check_names(ann: Mapping[str, Any], problems: Problems) -> None:
    for key, value in ann.items():
        if not key.startswith(n.PREFIX):
            continue
        if key == n.ENABLED_LABEL:
            problems.add(key, "is a label, not an annotation: set it under metadata.labels")
        elif key not in n.KNOWN_ANNOTATIONS:
            hint = suggest(key, n.USER_ANNOTATIONS)
            mean = f"; did you mean {show(hint)}?" if hint else ""
            problems.add(key, f"unknown canarist annotation{mean}")
        elif not isinstance(value, str):
            problems.add(key, f"annotation values must be strings, got {show(value)}")


def _steps(values: Mapping[str, str], problems: Problems) -> list[tuple[int, Step]]:
    if n.STEPS not in values:
        return list(enumerate(DEFAULT_STEPS))
    raw = load_yaml(values[n.STEPS], n.STEPS, problems)
    if failed(raw):
        return []
    if raw is None:  # an empty annotation (or a comment only)
        problems.add(
            n.STEPS,
            "is empty: list the steps (e.g. - setWeight: 20), or remove the annotation for the "
            "default steps",
        )
        return []
    return parse_steps_indexed(raw, n.STEPS, problems)


def _analysis(values: Mapping[str, str], problems: Problems) -> Analysis | None:
    if n.ANALYSIS not in values:
        return None
    raw = load_yaml(values[n.ANALYSIS], n.ANALYSIS, problems)
    return None if failed(raw) else parse_analysis(raw, n.ANALYSIS, problems)


def _action(text: str, path: str, problems: Problems) -> Action | None:
    try:
        return Action(text)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        problems.add(path, f"unknown action {show(text)}; allowed: {allowed}")
        return None


def _options(
    values: Mapping[str, str], problems: Problems, get: Callable[..., Any]
) -> o.RouterOptions:
    def names(what: str) -> Callable[[str, str, Problems], tuple[str, ...]]:
        return lambda text, path, pr: o.name_list(text, path, pr, what)

    return o.RouterOptions(
        istio_virtual_services=get(n.ISTIO_VIRTUAL_SERVICE, o.parse_virtual_services, ()),
        istio_destination_rule=get(n.ISTIO_DESTINATION_RULE, o.parse_destination_rule),
        nginx_ingresses=get(n.NGINX_INGRESS, names("Ingress"), ()),
        nginx_annotations=get(n.NGINX_ANNOTATIONS, o.parse_nginx_annotations, ()),
        alb_ingresses=get(n.ALB_INGRESS, names("Ingress"), ()),
        alb_service_port=get(n.ALB_SERVICE_PORT, o.parse_port),
        alb_root_service=get(n.ALB_ROOT_SERVICE, o.service_name),
        http_routes=get(n.HTTP_ROUTE, names("HTTPRoute"), ()),
        traffic_split=get(
            n.TRAFFIC_SPLIT, lambda t, p, pr: o.object_name(t, p, pr, "TrafficSplit name")
        ),
        smi_root_service=get(n.SMI_ROOT_SERVICE, o.service_name),
        proxy_hosts=get(n.PROXY_HOSTS, o.parse_hosts, ()),
    )


def _cross_check(
    spec: CanarySpec, values: Mapping[str, str], problems: Problems, warnings: list[str]
) -> None:
    routers = spec.routers
    for router in routers:
        for required in o.REQUIRED_OPTIONS.get(router, ()):
            if required not in values:
                problems.add(required, f'is required with traffic router "{router}"')
    for key, router in n.ROUTER_OPTIONS.items():
        if key in values and router not in routers:
            warnings.append(
                f'{key} is ignored: traffic router "{router}" is not selected '
                f"({n.TRAFFIC_ROUTER}: {','.join(routers)})"
            )
    if spec.stable_service and spec.canary_service_for(spec.stable_service) == spec.stable_service:
        problems.add(
            n.CANARY_SERVICE,
            f"must differ from the stable Service, both are {show(spec.stable_service)}",
        )
    if spec.sticky is not None:
        ignoring = [r for r in routers if r not in STICKY_ROUTERS]
        if ignoring:
            warnings.append(
                f"{n.STICKY} is ignored by traffic router {', '.join(ignoring)} (routers that "
                f"keep a client on its version: {', '.join(sorted(STICKY_ROUTERS))})"
            )
    root = spec.options.smi_root_service
    if root and root == spec.canary_service:
        problems.add(n.SMI_ROOT_SERVICE, f"must not be the canary Service {show(root)}")
    if spec.dynamic_stable_scale and not spec.traffic_routed:
        problems.add(n.DYNAMIC_STABLE_SCALE, 'needs a traffic router other than "none"')
    if spec.dynamic_stable_scale and n.SCALE_DOWN_DELAY in values:
        problems.add(
            n.SCALE_DOWN_DELAY,
            f"cannot be combined with {n.DYNAMIC_STABLE_SCALE}: the old pods go as traffic leaves",
        )
