"""Every number and duration canarist reads is finite, ASCII and in range, refused with its path."""

from __future__ import annotations

import math

import pytest

from webhook.analysis.providers.builtin import builtin_value
from webhook.analysis.values import to_number
from webhook.cli import main
from webhook.errors import ConfigError, MeasurementError, SpecError
from webhook.spec import BuiltinProvider, Metric
from webhook.spec.canary import parse_canary_spec
from webhook.spec.routetable import parse_endpoint, parse_route_table

ANALYSIS = "metrics:\n- name: success-rate\n  provider: builtin\n  {threshold}\n"


def problems(annotations: dict[str, str]) -> str:
    with pytest.raises(SpecError) as err:
        parse_canary_spec(annotations, deployment="web")
    return str(err.value)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"canarist.io/analysis": ANALYSIS.format(threshold="min: .nan")},
         "canarist.io/analysis.metrics[0].min: must be a finite number, got NaN"),
        ({"canarist.io/analysis": ANALYSIS.format(threshold="max: .inf")},
         "canarist.io/analysis.metrics[0].max: must be a finite number, got Infinity"),
        ({"canarist.io/analysis": ANALYSIS.format(threshold="min: -.inf")},
         "canarist.io/analysis.metrics[0].min: must be a finite number, got -Infinity"),
        ({"canarist.io/steps": "- pause: {duration: .nan}"},
         "canarist.io/steps[0].pause.duration: invalid duration NaN: must be a finite number "
         "of seconds"),
        ({"canarist.io/steps": "- pause: {duration: .inf}"},
         "canarist.io/steps[0].pause.duration: duration Infinity is longer than 30 days"),
        ({"canarist.io/steps": "- pause: {duration: ٣٠}"},
         'canarist.io/steps[0].pause.duration: invalid duration "٣٠"'),
        ({"canarist.io/steps": "- pause: {duration: ٣٠s}"},
         'canarist.io/steps[0].pause.duration: invalid duration "٣٠s"'),
        ({"canarist.io/steps": "- pause: {duration: 1.0e+999}"},
         "canarist.io/steps[0].pause.duration: duration Infinity is longer than 30 days"),
        ({"canarist.io/steps": f"- pause: {{duration: {10**400}}}"},
         "canarist.io/steps[0].pause.duration: duration (an integer of 1329 bits) is longer"),
        ({"canarist.io/steps": f"- pause: {{duration: -{10**400}}}"},
         "canarist.io/steps[0].pause.duration: duration must not be negative"),
        ({"canarist.io/steps": "- setWeight: .nan"},
         "canarist.io/steps[0].setWeight: must be an integer between 0 and 100, got NaN"),
        ({"canarist.io/steps": "- setWeight: ٣٠"},
         'canarist.io/steps[0].setWeight: must be an integer between 0 and 100, got "٣٠"'),
        ({"canarist.io/steps": "- setCanaryScale: {replicas: 1.0e+300}",
          "canarist.io/traffic-router": "proxy"},
         "canarist.io/steps[0].setCanaryScale.replicas: must be between 0 and 2147483647"),
        ({"canarist.io/analysis": ANALYSIS.format(threshold="min: 0.9") + "count: "
          + str(10**30) + "\n"},
         "canarist.io/analysis.count: must be between 1 and 2147483647"),
        ({"canarist.io/scale-down-delay": "nan"},
         'canarist.io/scale-down-delay: invalid duration "nan"'),
        ({"canarist.io/scale-down-delay": "٣٠s"},
         'canarist.io/scale-down-delay: invalid duration "٣٠s"'),
        ({"canarist.io/traffic-router": "alb", "canarist.io/alb-ingress": "web",
          "canarist.io/alb-service-port": "٨٠"},
         'canarist.io/alb-service-port: must be a port number between 1 and 65535, got "٨٠"'),
    ],
)
def test_non_finite_and_non_ascii_numbers_are_refused_with_their_path(
    annotations: dict[str, str], expected: str
) -> None:
    assert expected in problems(annotations)


def test_a_metric_never_passes_on_nan() -> None:
    metric = Metric("success-rate", BuiltinProvider("success-rate"), min=0.9)
    assert not metric.passes(math.nan)
    assert metric.passes(0.95)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("routes:\n- name: web\n  stable: {endpoints: ['127.0.0.1:٨٠']}\n",
         "routes[0].stable.endpoints[0]"),
        ("routes:\n- name: web\n  stable: {service: web, port: .nan}\n", "routes[0].stable.port"),
        ("routes:\n- name: web\n  stable: {endpoints: ['127.0.0.1:80']}\n"
         "  canary: {endpoints: ['127.0.0.1:81']}\n  weight: .inf\n", "routes[0].weight"),
    ],
)
def test_route_tables_refuse_non_finite_and_non_ascii_numbers(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_route_table(text, "routes.yaml")
    assert f"{where}:" in str(err.value)
    assert parse_endpoint("127.0.0.1:٨٠") is None


@pytest.mark.parametrize("raw", ["٣٠", "1_000", "nan", "NaN", math.nan, "0x10", " ", "1e5x"])
def test_provider_values_that_are_not_plain_numbers_are_errors(raw: object) -> None:
    with pytest.raises(MeasurementError):
        to_number(raw, "here")


def test_an_infinite_count_from_the_proxy_is_an_error_not_a_zero_error_rate() -> None:
    summary = {"windowSeconds": 60, "routes": {"web": {"canary": {
        "requests": "+Inf", "errors": 5, "successRate": 0.5}}}}
    with pytest.raises(MeasurementError, match="requests is \\+inf, not a finite number"):
        builtin_value(summary, "web", "error-rate")
    summary["windowSeconds"] = math.inf
    with pytest.raises(MeasurementError, match="windowSeconds"):
        builtin_value(summary, "web", "request-rate")


@pytest.mark.parametrize(
    "argv",
    [
        ["webhook", "--tls-cert", "c", "--tls-key", "k", "--drain-seconds", "nan"],
        ["webhook", "--tls-cert", "c", "--tls-key", "k", "--reload-interval", "inf"],
        ["webhook", "--tls-cert", "c", "--tls-key", "k", "--reload-interval", "٣"],
        ["up", "--port", "٣٠"],
        ["proxy", "--routes", "r.yaml", "--upstream-timeout", "nan"],
        ["reconcile", "--resync=-inf"],
        ["certs", "generate", "--service", "s", "--namespace", "n", "--out", "o", "--days", "١"],
    ],
)
def test_cli_number_flags_refuse_nan_infinity_and_non_ascii_digits(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "must be" in capsys.readouterr().err
