"""Per-kind registry behaviour: defaulting, preparation, validation, generation, deletion."""

from __future__ import annotations

from webhook.cluster.kinds.base import Strategy
from webhook.cluster.resources import ResourceType


def strategy_for(rt: ResourceType) -> Strategy:
    """The strategy of a resource (built-in table, or the custom-resource one)."""
    from webhook.cluster.kinds.registry import STRATEGIES, custom_strategy

    if rt.custom:
        return custom_strategy(rt)
    cls = STRATEGIES.get(rt.key, Strategy)
    return cls(rt)


__all__ = ["Strategy", "strategy_for"]
