"""Whether the steps can be carried out by the chosen traffic routers.

Each check names the step by its index in the user's list, e.g.
``canarist.io/steps[4].setMirrorRoute: traffic router "alb" cannot mirror traffic (...)``.
"""

from __future__ import annotations

from webhook.spec import names as n
from webhook.spec.analysis import Analysis
from webhook.spec.capabilities import (
    CAPABILITIES,
    EXACT_HEADERS_ONLY,
    SINGLE_HEADER_ONLY,
    Capability,
    routers_with,
)
from webhook.spec.matches import MirrorMatch
from webhook.spec.problems import Problems, at, index, show
from webhook.spec.steps import (
    AnalysisStep,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    Step,
)

# Gateway API's HTTPRouteMatch.method is an enum: methods are compared exactly.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_VERBS = {Capability.HEADER: "route by header", Capability.MIRROR: "mirror traffic"}


def check_steps(
    routers: tuple[str, ...],
    analysis: Analysis | None,
    indexed: list[tuple[int, Step]],
    problems: Problems,
    *,
    analysis_invalid: bool = False,
) -> None:
    """``analysis_invalid``: the analysis annotation is there but did not parse (reported)."""
    traffic_routed = routers != ("none",)
    active_headers: list[str] = []
    for i, step in indexed:
        path = index(n.STEPS, i)
        if isinstance(step, SetHeaderRoute):
            spath = at(path, "setHeaderRoute")
            _check_capability(routers, Capability.HEADER, spath, problems)
            _check_header_forms(routers, step, spath, problems)
            _check_one_active_header(routers, step, active_headers, spath, problems)
        elif isinstance(step, SetMirrorRoute):
            spath = at(path, "setMirrorRoute")
            _check_capability(routers, Capability.MIRROR, spath, problems)
            if "gateway-api" in routers:
                _check_gateway_mirror(step.matches, at(spath, "match"), problems)
        elif isinstance(step, SetCanaryScale) and not traffic_routed:
            problems.add(
                at(path, "setCanaryScale"),
                'needs a traffic router: with "none" the replica ratio is the traffic split',
            )
        elif isinstance(step, AnalysisStep) and not analysis_invalid:
            _check_analysis_step(analysis, step, at(path, "analysis"), problems)


def _check_capability(
    routers: tuple[str, ...], capability: Capability, path: str, problems: Problems
) -> None:
    able = ", ".join(routers_with(capability))
    for router in routers:
        if capability not in CAPABILITIES[router]:
            problems.add(
                path,
                f'traffic router "{router}" cannot {_VERBS[capability]} (routers that can: {able})',
            )


def _check_header_forms(
    routers: tuple[str, ...], step: SetHeaderRoute, path: str, problems: Problems
) -> None:
    for router in routers:
        if router in SINGLE_HEADER_ONLY and len(step.matches) > 1:
            problems.add(
                at(path, "match"),
                f'traffic router "{router}" can match only one header per route, '
                f"got {len(step.matches)}",
            )
        if router in EXACT_HEADERS_ONLY:
            for j, match in enumerate(step.matches):
                if match.value.kind != "exact":
                    problems.add(
                        at(index(at(path, "match"), j), "headerValue"),
                        f'traffic router "{router}" matches header values exactly only, '
                        f"got {match.value.kind}",
                    )


def _check_one_active_header(
    routers: tuple[str, ...],
    step: SetHeaderRoute,
    active: list[str],
    path: str,
    problems: Problems,
) -> None:
    """NGINX has one canary Ingress per host and path, so one header route at a time."""
    if step.name in active:
        active.remove(step.name)
    if not step.matches:
        return
    for router in routers:
        if router in SINGLE_HEADER_ONLY and active:
            problems.add(
                path,
                f'traffic router "{router}" carries one header route at a time; route '
                f"{show(active[0])} is still set (remove it first: "
                f"setHeaderRoute: {{name: {active[0]}}})",
            )
    active.append(step.name)


def _check_gateway_mirror(matches: tuple[MirrorMatch, ...], path: str, problems: Problems) -> None:
    for j, match in enumerate(matches):
        mpath = index(path, j)
        method = match.method
        if method is not None and (method.kind != "exact" or method.value not in HTTP_METHODS):
            problems.add(
                at(mpath, "method"),
                'traffic router "gateway-api" matches methods exactly, one of '
                f"{', '.join(sorted(HTTP_METHODS))}; got {show(method.to_dict())}",
            )
        url = match.path
        if url is not None and url.kind != "regex" and not url.value.startswith("/"):
            problems.add(
                at(mpath, "path"),
                'traffic router "gateway-api" needs paths starting with "/", '
                f"got {show(url.value)}",
            )


def check_metrics_used(
    analysis: Analysis, indexed: list[tuple[int, Step]], problems: Problems
) -> None:
    """A metric that no analysis step names (a step without ``templates`` names every one) is
    never measured without a background run: refuse it rather than ignore it."""
    if analysis.background:
        return
    used: set[str] = set()
    for _, step in indexed:
        if isinstance(step, AnalysisStep):
            used.update(step.templates or analysis.names)
    if used - analysis.names:
        return  # a step names a metric that does not exist (reported): likely a typo of one
    for j, metric in enumerate(analysis.metrics):
        if metric.name not in used:
            problems.add(
                at(index(at(n.ANALYSIS, "metrics"), j), "name"),
                f"metric {show(metric.name)} is measured by no analysis step and there is no "
                "background analysis: add `background: true` to measure it during the whole "
                "release (or `startingStep: N` from step N on), or an analysis step that names "
                f"it (- analysis: {{templates: [{{templateName: {metric.name}}}]}}), or remove it",
            )


def _check_analysis_step(
    analysis: Analysis | None, step: AnalysisStep, path: str, problems: Problems
) -> None:
    if analysis is None:
        problems.add(path, f"needs metrics: define them in {n.ANALYSIS}")
        return
    for j, name in enumerate(step.templates):
        if analysis.metric(name) is None:
            known = ", ".join(sorted(analysis.names)) or "none"
            problems.add(
                at(index(at(path, "templates"), j), "templateName"),
                f"no metric {show(name)} in {n.ANALYSIS} (metrics: {known})",
            )
