"""The whole annotation set of a Deployment: options, defaults, cross-checks, warnings."""

from __future__ import annotations

import pytest

from webhook.errors import SpecError
from webhook.spec import (
    DEFAULT_STEPS,
    Action,
    Capability,
    DestinationRuleRef,
    Pause,
    SetWeight,
    Sticky,
    VirtualServiceRef,
    parse_canary_spec,
)


def problems_of(ann: dict[str, str]) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_canary_spec(ann, deployment="web")
    return [str(p) for p in info.value.problems]


def test_defaults_when_only_opted_in() -> None:
    parsed = parse_canary_spec({}, deployment="web")
    spec = parsed.spec
    assert spec.steps == DEFAULT_STEPS == (SetWeight(20), Pause(30.0), SetWeight(50), Pause(30.0))
    assert spec.routers == ("none",)
    assert not spec.traffic_routed
    assert spec.scale_down_delay == spec.abort_scale_down_delay == 30.0
    assert spec.canary_service_for("web") == "web-canary"
    assert parsed.warnings == ()


def test_dynamic_stable_scale_removes_the_old_pods_at_once_after_promotion() -> None:
    """Argo Rollouts scales the old ReplicaSets to 0 at once with dynamicStableScale (and
    refuses a scaleDownDelaySeconds with it): the default delay is 0."""
    ann = {"canarist.io/traffic-router": "proxy", "canarist.io/dynamic-stable-scale": "true"}
    spec = parse_canary_spec(ann, deployment="web").spec
    assert (spec.scale_down_delay, spec.abort_scale_down_delay) == (0.0, 30.0)


def test_every_router_option_parses() -> None:
    spec = parse_canary_spec(
        {
            "canarist.io/traffic-router": "istio, nginx,alb,gateway-api,smi,proxy",
            "canarist.io/stable-service": "web",
            "canarist.io/canary-service": "web-next",
            "canarist.io/istio-virtual-service": "web-vs:primary,secondary; other-vs",
            "canarist.io/istio-destination-rule": "web-dr:v1,v2",
            "canarist.io/nginx-ingress": "web-ing, web-ing-internal",
            "canarist.io/nginx-annotations": '{"canary-by-header": "X-Canary", "a.io/b": "c"}',
            "canarist.io/alb-ingress": "web-alb",
            "canarist.io/alb-service-port": "443",
            "canarist.io/alb-root-service": "web-root",
            "canarist.io/http-route": "web-route",
            "canarist.io/traffic-split": "web-split",
            "canarist.io/smi-root-service": "web-root",
            "canarist.io/proxy-hosts": "Web.Example.com, *.example.org",
            "canarist.io/sticky": "true",
            "canarist.io/scale-down-delay": "1m",
            "canarist.io/abort-scale-down-delay": "0",
            "canarist.io/action": "promote-full",
        },
        deployment="web",
    ).spec
    opts = spec.options
    assert spec.routers == ("istio", "nginx", "alb", "gateway-api", "smi", "proxy")
    assert spec.capabilities == frozenset({Capability.WEIGHT})
    assert (spec.stable_service, spec.canary_service_for("web")) == ("web", "web-next")
    assert opts.istio_virtual_services == (
        VirtualServiceRef("web-vs", ("primary", "secondary")),
        VirtualServiceRef("other-vs"),
    )
    assert opts.istio_destination_rule == DestinationRuleRef("web-dr", "v1", "v2")
    assert opts.nginx_ingresses == ("web-ing", "web-ing-internal")
    assert opts.nginx_annotations == (
        ("a.io/b", "c"),
        ("nginx.ingress.kubernetes.io/canary-by-header", "X-Canary"),
    )
    assert (opts.alb_ingresses, opts.alb_service_port, opts.alb_root_service) == (
        ("web-alb",),
        443,
        "web-root",
    )
    assert opts.http_routes == ("web-route",)
    assert (opts.traffic_split, opts.smi_root_service) == ("web-split", "web-root")
    assert opts.proxy_hosts == ("web.example.com", "*.example.org")
    assert spec.sticky == Sticky("canarist-web")
    assert (spec.scale_down_delay, spec.abort_scale_down_delay) == (60.0, 0.0)
    assert spec.action is Action.PROMOTE_FULL


@pytest.mark.parametrize(
    ("ann", "expected"),
    [
        (
            {"canarist.io/traffic-router": "istoi"},
            'canarist.io/traffic-router: unknown traffic router "istoi" (did you mean "istio"?)',
        ),
        (
            {"canarist.io/traffic-router": "proxy,proxy"},
            'canarist.io/traffic-router: traffic router "proxy" is listed twice',
        ),
        (
            {"canarist.io/traffic-router": "none,proxy"},
            'canarist.io/traffic-router: "none" cannot be combined with other traffic routers',
        ),
        (
            {"canarist.io/traffic-router": "istio"},
            'canarist.io/istio-virtual-service: is required with traffic router "istio"',
        ),
        (
            {"canarist.io/traffic-router": "nginx"},
            'canarist.io/nginx-ingress: is required with traffic router "nginx"',
        ),
        (
            {"canarist.io/traffic-router": "gateway-api"},
            'canarist.io/http-route: is required with traffic router "gateway-api"',
        ),
        (
            {"canarist.io/traffic-router": "alb", "canarist.io/alb-ingress": "a"},
            'canarist.io/alb-service-port: is required with traffic router "alb"',
        ),
        (
            {"canarist.io/alb-service-port": "70000"},
            'canarist.io/alb-service-port: must be a port number between 1 and 65535, got "70000"',
        ),
        (
            {"canarist.io/stable-service": "web", "canarist.io/canary-service": "web"},
            'canarist.io/canary-service: must differ from the stable Service, both are "web"',
        ),
        ({"canarist.io/stable-service": "Web_1"}, 'invalid Service name "Web_1"'),
        ({"canarist.io/steps ": "x"}, "unknown canarist annotation"),
        (
            {"canarist.io/setps": "- setWeight: 1"},
            'canarist.io/setps: unknown canarist annotation; did you mean "canarist.io/steps"?',
        ),
        (
            {"canarist.io/enabled": "true"},
            "canarist.io/enabled: is a label, not an annotation",
        ),
        (
            {"canarist.io/action": "promte"},
            'canarist.io/action: unknown action "promte"; allowed: promote, promote-full, abort',
        ),
        ({"canarist.io/dynamic-stable-scale": "yes"}, 'must be "true" or "false", got "yes"'),
        (
            {"canarist.io/dynamic-stable-scale": "true"},
            'canarist.io/dynamic-stable-scale: needs a traffic router other than "none"',
        ),
        (
            {
                "canarist.io/traffic-router": "proxy",
                "canarist.io/dynamic-stable-scale": "true",
                "canarist.io/scale-down-delay": "10s",
            },
            "canarist.io/scale-down-delay: cannot be combined with "
            "canarist.io/dynamic-stable-scale",
        ),
        ({"canarist.io/scale-down-delay": "soon"}, 'invalid duration "soon"'),
        ({"canarist.io/nginx-annotations": "{"}, "canarist.io/nginx-annotations: must be a JSON"),
        ({"canarist.io/nginx-annotations": '{"a": 1}'}, 'value of "a" must be a string'),
        ({"canarist.io/istio-destination-rule": "dr:a,a"}, "stable and canary subsets must differ"),
        ({"canarist.io/istio-virtual-service": "vs:"}, "no route names after ':' in \"vs:\""),
        ({"canarist.io/proxy-hosts": "a b"}, 'invalid host name "a b"'),
        ({"canarist.io/sticky": "a cookie"}, 'must be "true", "false" or a cookie name'),
        (
            {
                "canarist.io/steps": "- setMirrorRoute: {name: m, match: [{path: {prefix: /}}]}",
                "canarist.io/traffic-router": "nginx",
                "canarist.io/nginx-ingress": "i",
            },
            'canarist.io/steps[0].setMirrorRoute: traffic router "nginx" cannot mirror traffic '
            "(routers that can: istio, gateway-api, proxy)",
        ),
        (
            {
                "canarist.io/steps": "- setHeaderRoute: {name: h, match: [{headerName: a, "
                "headerValue: {exact: b}}]}"
            },
            'canarist.io/steps[0].setHeaderRoute: traffic router "none" cannot route by header '
            "(routers that can: istio, nginx, alb, gateway-api, proxy)",
        ),
        (
            {
                "canarist.io/steps": "- setHeaderRoute: {name: h, match: [{headerName: a, "
                "headerValue: {exact: b}}, {headerName: c, headerValue: {exact: d}}]}",
                "canarist.io/traffic-router": "nginx",
                "canarist.io/nginx-ingress": "i",
            },
            'canarist.io/steps[0].setHeaderRoute.match: traffic router "nginx" can match only one '
            "header per route, got 2",
        ),
        (
            {
                "canarist.io/steps": "- setHeaderRoute: {name: a, match: [{headerName: x, "
                "headerValue: {exact: '1'}}]}\n- setHeaderRoute: {name: b, match: [{headerName: "
                "y, headerValue: {exact: '2'}}]}",
                "canarist.io/traffic-router": "nginx",
                "canarist.io/nginx-ingress": "i",
            },
            'canarist.io/steps[1].setHeaderRoute: traffic router "nginx" carries one header route '
            'at a time; route "a" is still set',
        ),
        (
            {
                "canarist.io/steps": "- setMirrorRoute: {name: m, match: [{method: {prefix: G}, "
                "path: {prefix: api}}]}",
                "canarist.io/traffic-router": "gateway-api",
                "canarist.io/http-route": "r",
            },
            'canarist.io/steps[0].setMirrorRoute.match[0].method: traffic router "gateway-api" '
            "matches methods exactly",
        ),
        (
            {
                "canarist.io/steps": "- setMirrorRoute: {name: m, match: [{path: {prefix: api}}]}",
                "canarist.io/traffic-router": "gateway-api",
                "canarist.io/http-route": "r",
            },
            'canarist.io/steps[0].setMirrorRoute.match[0].path: traffic router "gateway-api" needs '
            'paths starting with "/", got "api"',
        ),
        (
            {
                "canarist.io/steps": "- setHeaderRoute: {name: h, match: [{headerName: x, "
                "headerValue: {exact: ''}}]}",
                "canarist.io/traffic-router": "proxy",
            },
            "canarist.io/steps[0].setHeaderRoute.match[0].headerValue.exact: must not be empty",
        ),
        (
            {"canarist.io/steps": "- setCanaryScale: {replicas: 1}"},
            'canarist.io/steps[0].setCanaryScale: needs a traffic router: with "none" the replica '
            "ratio is the traffic split",
        ),
    ],
)
def test_invalid_annotations_are_reported_with_their_path(
    ann: dict[str, str], expected: str
) -> None:
    problems = problems_of(ann)
    assert any(expected in p for p in problems), problems


def test_router_options_for_unselected_routers_warn_but_pass() -> None:
    parsed = parse_canary_spec(
        {"canarist.io/traffic-router": "proxy", "canarist.io/nginx-ingress": "web"}
    )
    assert parsed.warnings == (
        'canarist.io/nginx-ingress is ignored: traffic router "nginx" is not selected '
        "(canarist.io/traffic-router: proxy)",
    )


def test_other_annotations_are_ignored() -> None:
    spec = parse_canary_spec(
        {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "x"}
    ).spec
    assert spec.routers == ("none",)


def test_error_message_lists_every_problem_with_the_deployment_name() -> None:
    with pytest.raises(SpecError) as info:
        parse_canary_spec(
            {"canarist.io/steps": "- setWeight: 150", "canarist.io/traffic-router": "x"},
            deployment="web",
        )
    text = str(info.value)
    assert text.startswith("Deployment web: 2 problems:\n- ")
    assert "canarist.io/steps[0].setWeight: must be between 0 and 100, got 150" in text


def test_nginx_header_route_can_be_replaced_after_removal() -> None:
    steps = (
        "- setHeaderRoute: {name: a, match: [{headerName: x, headerValue: {exact: '1'}}]}\n"
        "- setHeaderRoute: {name: a}\n"
        "- setHeaderRoute: {name: b, match: [{headerName: y, headerValue: {exact: '2'}}]}\n"
        "- setHeaderRoute: {name: b, match: [{headerName: y, headerValue: {exact: '3'}}]}"
    )
    spec = parse_canary_spec(
        {
            "canarist.io/steps": steps,
            "canarist.io/traffic-router": "nginx",
            "canarist.io/nginx-ingress": "i",
        }
    ).spec
    assert len(spec.steps) == 4


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("web", (VirtualServiceRef("web"),)),
        # Argo Rollouts' name.namespace: a VirtualService of another namespace
        ("web.mesh", (VirtualServiceRef("web", (), "mesh"),)),
        ("web.mesh:primary; other", (
            VirtualServiceRef("web", ("primary",), "mesh"), VirtualServiceRef("other"))),
    ],
)
def test_virtual_service_in_another_namespace(text: str, refs: tuple[VirtualServiceRef]) -> None:
    ann = {"canarist.io/traffic-router": "istio", "canarist.io/istio-virtual-service": text}
    assert parse_canary_spec(ann).spec.options.istio_virtual_services == refs


@pytest.mark.parametrize("text", ["web.mesh.svc", "Web.mesh", "web.", ".mesh"])
def test_a_virtual_service_reference_is_name_or_name_dot_namespace(text: str) -> None:
    ann = {"canarist.io/traffic-router": "istio", "canarist.io/istio-virtual-service": text}
    assert problems_of(ann) == [
        f'canarist.io/istio-virtual-service: invalid VirtualService "{text}": write NAME, or '
        "NAME.NAMESPACE for one in another namespace (lowercase letters, digits and '-')"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", Sticky("canarist-web", 3600)),
        ("shop-v", Sticky("shop-v", 3600)),
        ("false", None),
        ("true; max-age=2h", Sticky("canarist-web", 7200)),
        ("shop-v;Max-Age=600", Sticky("shop-v", 600)),
        ("true; max-age=1s", Sticky("canarist-web", 1)),
        ("true; max-age=168h", Sticky("canarist-web", 604800)),
        ("true; max-age=1h30m", Sticky("canarist-web", 5400)),
    ],
)
def test_sticky_cookie_and_max_age(text: str, expected: Sticky | None) -> None:
    spec = parse_canary_spec(
        {"canarist.io/sticky": text, "canarist.io/traffic-router": "proxy"}, deployment="web"
    ).spec
    assert spec.sticky == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("true; max-age=0", "max-age must be whole seconds from 1s to 7 days"),
        ("true; max-age=169h", "max-age must be whole seconds from 1s to 7 days"),
        ("true; max-age=1.5s", "max-age must be whole seconds from 1s to 7 days"),
        ("true; max-age=soon", 'invalid duration "soon"'),
        ("true; maxage=1h", 'after ";" only "max-age=DURATION" is allowed, got "maxage=1h"'),
        ("true; max-age", 'after ";" only "max-age=DURATION" is allowed'),
        ("false; max-age=1h", '"false" takes no max-age'),
        ("a cookie; max-age=1h", 'optionally followed by "; max-age=DURATION"'),
    ],
)
def test_bad_sticky_values_name_the_format(text: str, message: str) -> None:
    found = problems_of({"canarist.io/sticky": text})
    assert len(found) == 1 and found[0].startswith("canarist.io/sticky: ")
    assert message in found[0]


def test_sticky_warns_for_routers_that_ignore_it() -> None:
    parsed = parse_canary_spec(
        {
            "canarist.io/sticky": "true",
            "canarist.io/traffic-router": "istio,nginx",
            "canarist.io/istio-virtual-service": "web",
            "canarist.io/nginx-ingress": "web",
        }
    )
    assert parsed.warnings == (
        "canarist.io/sticky is ignored by traffic router istio (routers that keep a client on "
        "its version: alb, nginx, proxy)",
    )


def test_smi_root_service_must_be_a_service_name_other_than_the_canary() -> None:
    assert problems_of(
        {"canarist.io/traffic-router": "smi", "canarist.io/smi-root-service": "Web_1"}
    )[0].startswith('canarist.io/smi-root-service: invalid Service name "Web_1"')
    assert problems_of(
        {
            "canarist.io/traffic-router": "smi",
            "canarist.io/canary-service": "web-next",
            "canarist.io/smi-root-service": "web-next",
        }
    ) == ['canarist.io/smi-root-service: must not be the canary Service "web-next"']
