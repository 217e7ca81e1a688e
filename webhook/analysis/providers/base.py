"""What every provider gets: the release being measured and the shared HTTP session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from webhook.spec import Metric


@dataclass(frozen=True)
class MeasureContext:
    """The release a measurement is for.

    ``route`` is the proxy route of the Deployment (its name, as the ``proxy`` router writes it);
    ``now`` bounds time-window queries (Datadog's ``from``/``to``).
    """

    namespace: str
    deployment: str
    now: datetime
    route: str = ""

    @property
    def route_name(self) -> str:
        return self.route or self.deployment[:63].rstrip("-.")


class Source(Protocol):
    """One provider kind."""

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        """The metric's current value; ``MeasurementError`` when there is none."""
        ...
