"""Which strategy serves which built-in resource."""

from __future__ import annotations

from webhook.cluster.kinds.base import Strategy
from webhook.cluster.resources import ResourceType

STRATEGIES: dict[str, type[Strategy]] = {}


def custom_strategy(rt: ResourceType) -> Strategy:
    return Strategy(rt)
