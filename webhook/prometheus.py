"""Prometheus text exposition without a client library: a cumulative histogram and label
escaping, shared by the webhook's, the reconciler's and the proxy's ``/metrics``.

Like ``errors``, this module imports nothing of canarist's, so every layer may use it.
"""

from __future__ import annotations

from bisect import bisect_left


class Histogram:
    """Counts per upper bound (``le``), plus sum and count; ``render`` writes them cumulative."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str) -> list[str]:
        lines = []
        running = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{name}_bucket{{le="{le}"}} {running}')
        lines.append(f"{name}_sum {self.sum!r}")
        lines.append(f"{name}_count {self.count}")
        return lines


def escape_label(value: str) -> str:
    """A label value as the exposition format quotes it (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
