"""One Argo metric (arguments already filled in) as a canarist metric.

Prometheus, Datadog and Web metrics convert; their transport options that canarist lacks
(headers to Prometheus, ``insecure``, ``authentication``) are reported while the metric is kept.
A metric whose meaning canarist cannot keep (another provider, a range query, a condition that is
not a single comparison, ``failureLimit: -1``) is left out and reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.convert.conditions import Bounds, bounds
from webhook.convert.report import Notes
from webhook.spec import parse_analysis
from webhook.spec.durations import parse_duration
from webhook.spec.problems import Problems, at

_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_WEB_PATH = re.compile(r"^\{?\s*(\$?[^{}\s]*)\s*\}?\Z")
_OTHER_PROVIDER = (
    "measure it with a provider canarist has: prometheus, datadog, web (an endpoint that runs "
    "the check and answers a number) or builtin (canarist's proxy)"
)


@dataclass(frozen=True)
class Converted:
    metric: dict[str, Any]  # name, provider, min/max: an item of canarist.io/analysis metrics
    interval: float | None
    count: int | None  # None: Argo measures until the run is stopped
    failure_limit: int
    error_limit: int


def metric_name(raw: str) -> str:
    """A canarist metric name (lowercase letters, digits, '-', at most 63) for an Argo one."""
    name = _NAME_CHARS.sub("-", raw.lower()).strip("-")[:63].strip("-")
    return name or "metric"


@dataclass
class _Ctx:
    notes: Notes
    subject: str
    path: str

    def refused(self, field: str, why: str, instead: str = "") -> None:
        self.notes.refused(self.subject, at(self.path, field), why, instead)

    def changed(self, field: str, how: str) -> None:
        self.notes.changed(self.subject, at(self.path, field), how)


def convert_metric(raw: Mapping[str, Any], notes: Notes, subject: str, path: str
                   ) -> Converted | None:
    ctx = _Ctx(notes, subject, path)
    provider = raw.get("provider")
    if not isinstance(provider, dict) or len(provider) != 1:
        ctx.refused("provider", "must name exactly one provider")
        return None
    kind = next(iter(provider))
    body = provider[kind] if isinstance(provider[kind], dict) else {}
    build = _PROVIDERS.get(kind)
    if build is None:
        ctx.refused(f"provider.{kind}", f"canarist has no {kind} provider; the metric is left "
                    "out", _OTHER_PROVIDER)
        return None
    found = bounds(_cond(raw, "successCondition"), _cond(raw, "failureCondition"))
    if isinstance(found, str):
        ctx.refused("successCondition", f"{found}; the metric is left out",
                    "give it a single comparison such as result[0] >= 0.95 (min/max)")
        return None
    built = build(body, found, _Ctx(notes, subject, at(path, f"provider.{kind}")))
    if built is None:
        return None
    limits = _limits(raw, ctx)
    if limits is None:
        return None
    name = metric_name(str(raw.get("name", "")))
    if name != raw.get("name"):
        ctx.changed("name", f"renamed {raw.get('name')!r} to {name!r} (canarist's metric names)")
    metric: dict[str, Any] = {"name": name, "provider": {kind: built}}
    if found.low is not None:
        metric["min"] = _number(found.low)
    if found.high is not None:
        metric["max"] = _number(found.high)
    for note in found.notes:
        ctx.changed("successCondition" if "successCondition" in raw else "failureCondition",
                    note)
    problems = Problems()
    parse_analysis({"metrics": [metric]}, "", problems)
    if problems:
        why = "; ".join(str(p) for p in problems)
        ctx.refused("provider", f"canarist refuses the converted metric ({why}); it is left out",
                    "adjust the metric")
        return None
    interval, count, failure_limit, error_limit = limits
    return Converted(metric, interval, count, failure_limit, error_limit)


def _cond(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None or value == "" else str(value)


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _int(raw: Mapping[str, Any], key: str, default: int | None, ctx: _Ctx
         ) -> tuple[bool, int | None]:
    """``(ok, value)`` of an integer field that Argo also accepts as a numeric string."""
    value = raw.get(key)
    if value is None:
        return True, default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and value.isascii():
        return True, int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return True, value
    ctx.refused(key, f"must be an integer, got {value!r}; the metric is left out")
    return False, None


def _limits(raw: Mapping[str, Any], ctx: _Ctx
            ) -> tuple[float | None, int | None, int, int] | None:
    interval = None
    if raw.get("interval") is not None:
        problems = Problems()
        interval = parse_duration(raw["interval"], "interval", problems)
        if interval is None:
            ctx.refused("interval", f"{problems.items[0].message}; the metric is left out")
            return None
    ok_c, count = _int(raw, "count", None, ctx)
    ok_f, failure = _int(raw, "failureLimit", 0, ctx)
    ok_e, errors = _int(raw, "consecutiveErrorLimit", 4, ctx)
    if not (ok_c and ok_f and ok_e):
        return None
    assert failure is not None and errors is not None
    if failure < 0:
        ctx.refused("failureLimit", f"{failure} means failures never fail the metric; canarist "
                    "has no such metric; it is left out", "drop it, or set a limit")
        return None
    if count is None and interval is None:
        count = 1  # Argo: no count and no interval is one measurement
    for key, why, instead in _UNSUPPORTED:
        if raw.get(key) not in (None, 0, "0", "", "0s"):
            ctx.refused(key, why, instead)
    return interval, count, failure, max(errors, 0)


_UNSUPPORTED = (
    ("initialDelay", "canarist measures a metric as soon as its run starts",
     "start the run later: a pause step before the analysis step, or startingStep"),
    ("inconclusiveLimit", "canarist's thresholds have no Inconclusive result", ""),
    ("consecutiveSuccessLimit", "canarist ends a step analysis after count measurements",
     "set count"),
)


def _prometheus(body: Mapping[str, Any], found: Bounds, ctx: _Ctx) -> dict[str, Any] | None:
    if found.field not in ("", "[0]"):
        ctx.refused("query", f"the condition reads result{found.field}; a Prometheus query "
                    "gives one number", "compute the figure in the query")
        return None
    if body.get("rangeQuery") is not None:
        ctx.refused("rangeQuery", "canarist runs instant queries only; the metric is left out",
                    "turn it into an instant query (e.g. max_over_time(...[5m]))")
        return None
    out: dict[str, Any] = {"address": body.get("address"), "query": body.get("query")}
    if body.get("timeout") is not None:
        out["timeout"] = body["timeout"]
    _transport(body, ctx, ("headers", "insecure", "authentication"))
    return out


def _datadog(body: Mapping[str, Any], found: Bounds, ctx: _Ctx) -> dict[str, Any] | None:
    if found.field not in ("", "[0]"):
        ctx.refused("query", f"the condition reads result{found.field}; a Datadog query gives "
                    "one number", "compute the figure in the query")
        return None
    if body.get("query") is None:
        ctx.refused("queries", "canarist sends one query (the v1 API), not queries and a "
                    "formula; the metric is left out", "write it as one query")
        return None
    out: dict[str, Any] = {"query": body["query"]}
    if str(body.get("apiVersion", "v1")) != "v1":
        ctx.changed("apiVersion", "queried through Datadog's v1 API (the only one canarist uses)")
    if str(body.get("interval", "5m")) != "5m":
        ctx.changed("interval", f"canarist reads the last 5 minutes, not {body['interval']}")
    if body.get("aggregator") is not None:
        ctx.changed("aggregator", "canarist takes the last point of the series")
    secret = body.get("secretRef")
    name = secret.get("name") if isinstance(secret, dict) else None
    if name:
        out["secretRef"] = name
    ctx.changed("secretRef", f"the API keys are read from the Secret {name or 'datadog'!r} in "
                "the Deployment's namespace (keys api-key, app-key); the site is "
                "api.datadoghq.com unless provider.datadog.address says otherwise")
    return out


def _web(body: Mapping[str, Any], found: Bounds, ctx: _Ctx) -> dict[str, Any] | None:
    out: dict[str, Any] = {"url": body.get("url")}
    method = str(body.get("method", "GET"))
    if method not in ("GET", "POST"):
        ctx.refused("method", f"canarist sends GET or POST, not {method}; the metric is left out")
        return None
    if method != "GET":
        out["method"] = method
    if isinstance(body.get("headers"), list):
        out["headers"] = body["headers"]
    if body.get("jsonBody") is not None:
        out["body"] = json.dumps(body["jsonBody"], separators=(",", ":"))
    elif body.get("body") is not None:
        out["body"] = body["body"]
    path = _WEB_PATH.match(str(body.get("jsonPath", "$")))
    base = (path.group(1) if path else "") or "$"
    out["jsonPath"] = (base if base.startswith("$") else "$" + base) + found.field
    if out["jsonPath"] == "$":
        del out["jsonPath"]
    if body.get("timeoutSeconds") is not None:
        out["timeoutSeconds"] = body["timeoutSeconds"]
    _transport(body, ctx, ("insecure", "authentication"))
    return out


def _transport(body: Mapping[str, Any], ctx: _Ctx, keys: tuple[str, ...]) -> None:
    for key in keys:
        if body.get(key) not in (None, False, [], {}):
            ctx.refused(key, f"canarist's provider has no {key}; the metric is kept without it",
                        "make the endpoint reachable without it")


_PROVIDERS: dict[str, Callable[[Mapping[str, Any], Bounds, _Ctx], dict[str, Any] | None]] = {
    "prometheus": _prometheus,
    "datadog": _datadog,
    "web": _web,
}
