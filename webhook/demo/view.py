"""What the demo prints: a live line per change (a redrawn line with a bar on a terminal), and
the summary table. Pure functions of the values, so they are tested as text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from webhook.demo.load import Counts
from webhook.spec import Phase, ReleaseStatus

BAR = 20


def bar(weight: int, *, width: int = BAR) -> str:
    filled = round(width * max(0, min(100, weight)) / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def traffic(counts: Counts) -> str:
    """``v1 78% v2 22%`` over the answers, plus errors when there are any."""
    ok = sum(counts.versions.values())
    if not ok and not counts.errors:
        return "no traffic yet"
    parts = [f"{v} {round(100 * n / ok)}%" for v, n in sorted(counts.versions.items()) if ok]
    errors = sum(counts.errors.values())
    if errors:
        parts.append(f"errors {round(100 * errors / counts.total)}%")
    return " ".join(parts)


def status_line(label: str, status: ReleaseStatus, recent: Counts) -> str:
    phase = status.phase.value if status.phase else "-"
    released = status.phase is Phase.HEALTHY
    step = (
        f"step {min(status.step + 1, status.steps)}/{status.steps}"
        if status.steps and not released
        else ""
    )
    return (
        f"{label:<3} {phase:<11} {step:<9} weight {status.weight:>3}% {bar(status.weight)} "
        f"traffic: {traffic(recent)}"
    )


@dataclass(frozen=True)
class Period:
    name: str
    seconds: float
    counts: Counts
    outcome: str


def summary(periods: Sequence[Period], versions: Sequence[str]) -> str:
    head = ["period", "seconds", "requests", *versions, "errors", "outcome"]
    rows = [head]
    for p in periods:
        errors = sum(p.counts.errors.values())
        rows.append(
            [
                p.name,
                f"{p.seconds:.1f}",
                str(p.counts.total),
                *(str(p.counts.versions[v]) for v in versions),
                str(errors),
                p.outcome,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in (0, len(row) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
