"""``canarist.io/analysis``: metrics checked during a release, with plain thresholds.

```yaml
interval: 30s            # between measurements (default 30s)
failureLimit: 0          # failed measurements tolerated; one more aborts the release
consecutiveErrorLimit: 4 # provider errors in a row tolerated; one more aborts
count: 3                 # measurements an ``analysis`` step takes (default 3)
background: true         # also measure during the whole release (default false, as Argo)
startingStep: 1          # background analysis starts at this step (default 0; implies background)
metrics:
- name: success-rate
  provider: builtin                    # the proxy's per-version counters
  min: 0.95
- name: p99
  provider: {prometheus: {address: http://prometheus:9090, query: '...'}}
  max: 0.5
```
A metric passes when its value is within ``min``/``max``; nothing is ever evaluated as code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from webhook.spec.durations import parse_duration
from webhook.spec.problems import (
    Problems,
    at,
    boolean,
    check_keys,
    index,
    integer,
    keyed,
    keyed_items,
    mapping,
    number,
    sequence,
    show,
    string,
    unknown_key_message,
)

BUILTIN_METRICS = (
    "success-rate",
    "error-rate",
    "latency-p50",
    "latency-p95",
    "latency-p99",
    "request-rate",
)
PROVIDERS = ("builtin", "prometheus", "datadog", "web")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_JSON_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*\Z")
DEFAULT_INTERVAL = 30.0
DEFAULT_COUNT = 3


@dataclass(frozen=True)
class BuiltinProvider:
    """A figure from the proxy's sliding window for the canary version."""

    metric: str


@dataclass(frozen=True)
class PrometheusProvider:
    address: str
    query: str
    timeout: float = 10.0


@dataclass(frozen=True)
class DatadogProvider:
    query: str
    address: str = "https://api.datadoghq.com"
    secret_ref: str = "datadog"  # Secret with keys api-key and app-key


@dataclass(frozen=True)
class WebProvider:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    json_path: str = "$"
    timeout: float = 10.0


Provider = BuiltinProvider | PrometheusProvider | DatadogProvider | WebProvider


@dataclass(frozen=True)
class Metric:
    name: str
    provider: Provider
    min: float | None = None
    max: float | None = None

    def passes(self, value: float) -> bool:
        if math.isnan(value):
            return False  # no data is not a pass
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)


@dataclass(frozen=True)
class Analysis:
    metrics: tuple[Metric, ...]
    interval: float = DEFAULT_INTERVAL
    failure_limit: int = 0
    consecutive_error_limit: int = 4
    count: int = DEFAULT_COUNT
    background: bool = False
    starting_step: int = 0
    names: frozenset[str] = field(default=frozenset(), compare=False)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


_TOP_KEYS = (
    "interval",
    "failureLimit",
    "consecutiveErrorLimit",
    "count",
    "background",
    "startingStep",
    "metrics",
)


def parse_analysis(raw: Any, path: str, problems: Problems) -> Analysis | None:
    m = keyed(raw, _TOP_KEYS, path, problems)
    if m is None:
        return None
    before = len(problems)
    interval = _opt_duration(m, "interval", path, problems, DEFAULT_INTERVAL)
    failure_limit = _opt_int(m, "failureLimit", path, problems, 0)
    error_limit = _opt_int(m, "consecutiveErrorLimit", path, problems, 4)
    count = _opt_int(m, "count", path, problems, DEFAULT_COUNT, low=1)
    starting_step = _opt_int(m, "startingStep", path, problems, 0)
    # Argo Rollouts runs background analysis only when asked: ``background: true``, or a
    # ``startingStep`` (a field of its background analysis)
    background = "startingStep" in m
    if "background" in m:
        background = bool(boolean(m["background"], at(path, "background"), problems))
        if not background and "startingStep" in m:
            problems.add(
                at(path, "startingStep"),
                "applies to the background run, which background: false turns off; "
                "remove one of them",
            )
    metrics = _metrics(m.get("metrics"), at(path, "metrics"), problems)
    if len(problems) != before or interval is None:
        return None
    assert failure_limit is not None and error_limit is not None
    assert count is not None and starting_step is not None
    return Analysis(
        metrics,
        interval,
        failure_limit,
        error_limit,
        count,
        background,
        starting_step,
        frozenset(x.name for x in metrics),
    )


def _opt_duration(
    m: Mapping[str, Any], key: str, path: str, problems: Problems, default: float
) -> float | None:
    if key not in m:
        return default
    return parse_duration(m[key], at(path, key), problems)


def _opt_int(
    m: Mapping[str, Any], key: str, path: str, problems: Problems, default: int, low: int = 0
) -> int | None:
    if key not in m:
        return default
    return integer(m[key], at(path, key), problems, low=low)


def _metrics(raw: Any, path: str, problems: Problems) -> tuple[Metric, ...]:
    if raw is None:
        problems.add(path, "is required: list the metrics to check")
        return ()
    items = sequence(raw, path, problems)
    if items is None:
        return ()
    if not items:
        problems.add(path, "must list at least one metric")
    metrics: list[Metric] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        metric = _metric(item, index(path, i), problems)
        if metric is None:
            continue
        if metric.name in seen:
            problems.add(at(index(path, i), "name"), f"duplicate metric name {show(metric.name)}")
        seen.add(metric.name)
        metrics.append(metric)
    return tuple(metrics)


def _metric(raw: Any, path: str, problems: Problems) -> Metric | None:
    m = keyed(raw, ("name", "provider", "min", "max"), path, problems)
    if m is None:
        return None
    before = len(problems)
    name = string(m.get("name"), at(path, "name"), problems)
    if name is not None and not _NAME.match(name):
        problems.add(at(path, "name"), f"invalid metric name {show(name)}: use a-z, 0-9 and '-'")
    low = number(m["min"], at(path, "min"), problems) if "min" in m else None
    high = number(m["max"], at(path, "max"), problems) if "max" in m else None
    if "min" not in m and "max" not in m:
        problems.add(path, "needs a threshold: set min, max or both")
    if low is not None and high is not None and low > high:
        problems.add(path, f"min ({low:g}) is greater than max ({high:g})")
    if "provider" not in m:
        problems.add(at(path, "provider"), f"is required; one of {', '.join(PROVIDERS)}")
        return None
    provider = _provider(m["provider"], name, at(path, "provider"), problems)
    if provider is None or name is None or len(problems) != before:
        return None
    return Metric(name, provider, low, high)


def _provider(raw: Any, name: str | None, path: str, problems: Problems) -> Provider | None:
    if raw == "builtin":
        if name not in BUILTIN_METRICS:
            problems.add(
                path,
                f"provider builtin needs the metric name to be one of "
                f"{', '.join(BUILTIN_METRICS)} (or write {{builtin: {{metric: ...}}}}), "
                f"got {show(name)}",
            )
            return None
        return BuiltinProvider(name)
    m = mapping(raw, path, problems)
    if m is None:
        return None
    kinds = list(m)
    if len(kinds) != 1 or kinds[0] not in PROVIDERS:
        if len(kinds) == 1:
            problems.add(at(path, kinds[0]), unknown_key_message(kinds[0], PROVIDERS))
        else:
            problems.add(path, f"must have exactly one of {', '.join(PROVIDERS)}")
        return None
    kind = kinds[0]
    body = mapping(m[kind] if m[kind] is not None else {}, at(path, kind), problems)
    if body is None:
        return None
    return _PROVIDER_PARSERS[kind](body, at(path, kind), problems)


def _builtin(m: Mapping[str, Any], path: str, problems: Problems) -> Provider | None:
    check_keys(m, ("metric",), path, problems)
    metric = string(m.get("metric"), at(path, "metric"), problems)
    if metric is not None and metric not in BUILTIN_METRICS:
        problems.add(
            at(path, "metric"),
            f"unknown builtin metric {show(metric)}; one of {', '.join(BUILTIN_METRICS)}",
        )
        return None
    return None if metric is None else BuiltinProvider(metric)


def _url(raw: Any, path: str, problems: Problems) -> str | None:
    text = string(raw, path, problems)
    if text is None:
        return None
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.add(path, f"must be an http(s) URL, got {show(text)}")
        return None
    return text


def _prometheus(m: Mapping[str, Any], path: str, problems: Problems) -> Provider | None:
    check_keys(m, ("address", "query", "timeout"), path, problems)
    address = _url(m.get("address"), at(path, "address"), problems)
    query = string(m.get("query"), at(path, "query"), problems)
    timeout = _opt_duration(m, "timeout", path, problems, 10.0)
    if address is None or query is None or timeout is None:
        return None
    return PrometheusProvider(address, query, timeout)


def _datadog(m: Mapping[str, Any], path: str, problems: Problems) -> Provider | None:
    check_keys(m, ("query", "address", "secretRef"), path, problems)
    query = string(m.get("query"), at(path, "query"), problems)
    address = "https://api.datadoghq.com"
    if "address" in m:
        address = _url(m["address"], at(path, "address"), problems) or address
    secret = "datadog"
    if "secretRef" in m:
        secret = string(m["secretRef"], at(path, "secretRef"), problems) or secret
    return None if query is None else DatadogProvider(query, address, secret)


def _web(m: Mapping[str, Any], path: str, problems: Problems) -> Provider | None:
    check_keys(
        m, ("url", "method", "headers", "body", "jsonPath", "timeoutSeconds"), path, problems
    )
    before = len(problems)
    url = _url(m.get("url"), at(path, "url"), problems)
    method = m.get("method", "GET")
    if method not in ("GET", "POST"):
        problems.add(at(path, "method"), f"must be GET or POST, got {show(method)}")
    headers: list[tuple[str, str]] = []
    for ipath, h in keyed_items(m.get("headers", []), ("key", "value"), at(path, "headers"),
                                problems):
        key = string(h.get("key"), at(ipath, "key"), problems)
        value = string(h.get("value"), at(ipath, "value"), problems, nonempty=False)
        if key is not None and value is not None:
            headers.append((key, value))
    body = string(m["body"], at(path, "body"), problems, nonempty=False) if "body" in m else None
    json_path = m.get("jsonPath", "$")
    if not isinstance(json_path, str) or not _JSON_PATH.match(json_path):
        problems.add(
            at(path, "jsonPath"),
            f"must be a simple JSON path such as $.data.rate or $.items[0].value, got "
            f"{show(json_path)}",
        )
    timeout = integer(
        m.get("timeoutSeconds", 10), at(path, "timeoutSeconds"), problems, low=1, high=60
    )
    if url is None or len(problems) != before or timeout is None:
        return None
    return WebProvider(url, str(method), tuple(headers), body, str(json_path), float(timeout))


_PROVIDER_PARSERS = {
    "builtin": _builtin,
    "prometheus": _prometheus,
    "datadog": _datadog,
    "web": _web,
}
