"""Analysis phases (Argo Rollouts' names) and their order from best to worst."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class AnalysisPhase(StrEnum):
    """The phase of one measurement, one metric or one run.

    ``Pending``: nothing measured yet. ``Running``: measuring. The other four are terminal.
    """

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def bad(self) -> bool:
        """Terminal and not Successful: a run stops measuring once one metric is bad."""
        return self in _BAD


_TERMINAL = frozenset(
    {
        AnalysisPhase.SUCCESSFUL,
        AnalysisPhase.FAILED,
        AnalysisPhase.ERROR,
        AnalysisPhase.INCONCLUSIVE,
    }
)
_BAD = _TERMINAL - {AnalysisPhase.SUCCESSFUL}

# Best to worst, as Argo's ``IsWorse``: a Failed metric outweighs an Error, which outweighs an
# Inconclusive one.
ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)


def worst(phases: Iterable[AnalysisPhase]) -> AnalysisPhase | None:
    """The worst phase of ``phases``, or ``None`` when there are none."""
    found = list(phases)
    return max(found, key=ORDER.index) if found else None


def parse_phase(raw: object, default: AnalysisPhase) -> AnalysisPhase:
    """Lenient: an unknown or missing phase in a stored state reads as ``default``."""
    if not isinstance(raw, str):
        return default
    try:
        return AnalysisPhase(raw)
    except ValueError:
        return default
