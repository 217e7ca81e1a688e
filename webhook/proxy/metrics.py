"""Per-route, per-version request metrics: cumulative Prometheus series and a sliding window.

Recording is a handful of integer increments on the hot path. Everything else works on plain
snapshots (dicts of lists, picklable) so several worker processes can be merged by the parent:
``snapshot`` -> ``merge`` -> ``render_prometheus`` / ``summarize``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from typing import Any

from webhook.prometheus import escape_label

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
# Fine log-scale bounds for the window's percentiles: 50 µs * 1.2^k, up to about 90 s.
WINDOW_BOUNDS = tuple(50e-6 * 1.2**k for k in range(80))
DEFAULT_WINDOW = 60
MIRROR_RESULTS = ("sent", "dropped", "failed")

Key = tuple[str, str]  # (route, version)
Snapshot = dict[str, Any]

# One bisect per request: the union of both sets of bounds. Every Prometheus bound is among them,
# so the coarse buckets are exact when a snapshot folds the fine counts into them.
BOUNDS = tuple(sorted(set(LATENCY_BUCKETS) | set(WINDOW_BOUNDS)))
_COARSE = tuple(bisect_left(LATENCY_BUCKETS, b) for b in (*BOUNDS, math.inf))
_FINE = tuple(bisect_left(WINDOW_BOUNDS, b) for b in (*BOUNDS, math.inf))


def _fold(counts: list[int], index: tuple[int, ...], size: int) -> list[int]:
    out = [0] * size
    for i, n in enumerate(counts):
        if n:
            out[index[i]] += n
    return out


class Recorder:
    """The counters of one (route, version): a handful of integer increments per request.

    ``hist`` counts requests per bucket of ``BOUNDS`` since the start; ``slots`` holds one
    ``[second, errors, hist]`` per second of the sliding window, ``slot`` the current one.
    """

    __slots__ = ("classes", "hist", "size", "slot", "slots", "sum", "upstream_errors")

    def __init__(self, window_seconds: int) -> None:
        self.classes = [0] * 10  # by status // 100; folded into 1xx..5xx by snapshots
        self.upstream_errors = 0
        self.hist = [0] * (len(BOUNDS) + 1)
        self.sum = 0.0
        self.size = window_seconds
        self.slots: list[list[Any]] = [[-1, 0, None] for _ in range(window_seconds)]
        self.slot: list[Any] = self.slots[0]

    def add(self, status: int, seconds: float, upstream_error: bool, second: int) -> None:
        i = bisect_left(BOUNDS, seconds)
        self.hist[i] += 1
        self.classes[status // 100 if 0 <= status < 1000 else 5] += 1
        self.sum += seconds
        if upstream_error:
            self.upstream_errors += 1
        slot = self.slot
        if slot[0] != second:
            slot = self.slot = self.slots[second % self.size]
            if slot[0] != second:
                slot[0], slot[1], slot[2] = second, 0, [0] * (len(BOUNDS) + 1)
        slot[2][i] += 1
        if status >= 500:
            slot[1] += 1

    def series(self) -> list[Any]:
        c = self.classes
        classes = [c[1], c[2], c[3], c[4], c[0] + sum(c[5:])]
        return [classes, self.upstream_errors, _fold(self.hist, _COARSE, len(LATENCY_BUCKETS) + 1),
                self.sum, sum(self.hist)]

    def window(self) -> dict[int, list[Any]]:
        return {slot[0]: [sum(slot[2]), slot[1], _fold(slot[2], _FINE, len(WINDOW_BOUNDS) + 1)]
                for slot in self.slots if slot[0] >= 0}


class Metrics:
    def __init__(self, window_seconds: int = DEFAULT_WINDOW) -> None:
        self.window_seconds = window_seconds
        self.recorders: dict[Key, Recorder] = {}
        self.mirror: dict[str, list[int]] = {}

    def recorder(self, route: str, version: str) -> Recorder:
        """The counters of a route's version (the proxy keeps them on the route: no lookup per
        request)."""
        rec = self.recorders.get((route, version))
        if rec is None:
            rec = self.recorders[(route, version)] = Recorder(self.window_seconds)
        return rec

    def record(self, route: str, version: str, status: int, seconds: float,
               upstream_error: bool = False) -> None:
        self.recorder(route, version).add(status, seconds, upstream_error, int(time.time()))

    def mirror_event(self, route: str, result: str) -> None:
        counts = self.mirror.get(route)
        if counts is None:
            counts = self.mirror[route] = [0, 0, 0]
        counts[MIRROR_RESULTS.index(result)] += 1

    def snapshot(self) -> Snapshot:
        return {
            "series": {k: r.series() for k, r in self.recorders.items()},
            "window": {k: r.window() for k, r in self.recorders.items()},
            "mirror": {r: list(c) for r, c in self.mirror.items()},
        }


def merge(snapshots: list[Snapshot]) -> Snapshot:
    """Add up the snapshots of several workers."""
    out: Snapshot = {"series": {}, "window": {}, "mirror": {}}
    for snap in snapshots:
        for key, (classes, errs, buckets, total, count) in snap["series"].items():
            cur = out["series"].setdefault(key, [[0] * 5, 0, [0] * len(buckets), 0.0, 0])
            cur[0] = [a + b for a, b in zip(cur[0], classes, strict=True)]
            cur[1] += errs
            cur[2] = [a + b for a, b in zip(cur[2], buckets, strict=True)]
            cur[3] += total
            cur[4] += count
        for key, slots in snap["window"].items():
            mine = out["window"].setdefault(key, {})
            for second, (n, errs, counts) in slots.items():
                cur = mine.setdefault(second, [0, 0, [0] * len(counts)])
                cur[0] += n
                cur[1] += errs
                cur[2] = [a + b for a, b in zip(cur[2], counts, strict=True)]
        for route, counts in snap["mirror"].items():
            cur = out["mirror"].setdefault(route, [0, 0, 0])
            out["mirror"][route] = [a + b for a, b in zip(cur, counts, strict=True)]
    return out


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def render_prometheus(snap: Snapshot) -> str:
    lines = [
        "# HELP canarist_proxy_requests_total Requests answered, by route, version and status "
        "class.",
        "# TYPE canarist_proxy_requests_total counter",
    ]
    series = sorted(snap["series"].items())
    for (route, version), (classes, _, _, _, _) in series:
        for i, n in enumerate(classes):
            lines.append("canarist_proxy_requests_total"
                         f"{_labels(route=route, version=version, code=f'{i + 1}xx')} {n}")
    lines += ["# HELP canarist_proxy_upstream_errors_total Upstream connect failures, timeouts "
              "and broken responses.",
              "# TYPE canarist_proxy_upstream_errors_total counter"]
    for (route, version), (_, errs, _, _, _) in series:
        lines.append(f"canarist_proxy_upstream_errors_total"
                     f"{_labels(route=route, version=version)} {errs}")
    lines += ["# HELP canarist_proxy_request_duration_seconds Time from request headers to the "
              "end of the response.",
              "# TYPE canarist_proxy_request_duration_seconds histogram"]
    for (route, version), (_, _, buckets, total, count) in series:
        running = 0
        for bound, n in zip((*LATENCY_BUCKETS, math.inf), buckets, strict=True):
            running += n
            le = "+Inf" if bound == math.inf else repr(bound)
            lines.append("canarist_proxy_request_duration_seconds_bucket"
                         f"{_labels(route=route, version=version, le=le)} {running}")
        lab = _labels(route=route, version=version)
        lines.append(f"canarist_proxy_request_duration_seconds_sum{lab} {total!r}")
        lines.append(f"canarist_proxy_request_duration_seconds_count{lab} {count}")
    lines += ["# HELP canarist_proxy_mirror_requests_total Mirrored copies by result.",
              "# TYPE canarist_proxy_mirror_requests_total counter"]
    for route, counts in sorted(snap["mirror"].items()):
        for result, n in zip(MIRROR_RESULTS, counts, strict=True):
            lines.append(f"canarist_proxy_mirror_requests_total"
                         f"{_labels(route=route, result=result)} {n}")
    return "\n".join(lines) + "\n"


def _percentile(counts: list[int], total: int, q: float) -> float:
    """Linear interpolation inside the log-scale bucket that holds the q-quantile."""
    rank = q * total
    running = 0
    for i, n in enumerate(counts):
        if n and running + n >= rank:
            low = WINDOW_BOUNDS[i - 1] if i > 0 else 0.0
            high = WINDOW_BOUNDS[i] if i < len(WINDOW_BOUNDS) else WINDOW_BOUNDS[-1] * 1.2
            return low + (high - low) * max(0.0, rank - running) / n
        running += n
    return 0.0


def summarize(snap: Snapshot, window: int, now: float | None = None) -> dict[str, Any]:
    """Success rate and latency percentiles per route and version over the last ``window`` s."""
    current = int(time.time() if now is None else now)
    routes: dict[str, dict[str, Any]] = {}
    for (route, version), slots in sorted(snap["window"].items()):
        n = errs = 0
        counts = [0] * (len(WINDOW_BOUNDS) + 1)
        for second, (sn, serrs, scounts) in slots.items():
            if current - window < second <= current:
                n += sn
                errs += serrs
                counts = [a + b for a, b in zip(counts, scounts, strict=True)]
        routes.setdefault(route, {})[version] = {
            "requests": n,
            "errors": errs,
            "successRate": None if n == 0 else round((n - errs) / n, 6),
            "latencyMs": {
                f"p{int(q * 100)}": None if n == 0 else round(_percentile(counts, n, q) * 1e3, 3)
                for q in (0.5, 0.95, 0.99)
            },
        }
    return {"windowSeconds": window, "time": current, "routes": routes}
