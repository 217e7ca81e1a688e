"""Argo Rollouts' step semantics as pure functions of the step list and the current index.

At index ``i`` (``i == len(steps)`` means "all steps done"):
- the traffic weight is the last ``setWeight`` at or before ``i`` (0 when there is none);
- a ``setCanaryScale`` with ``replicas`` or ``weight`` sticks until a later
  ``setCanaryScale: {matchTrafficWeight: true}``;
- a header or mirror route is the last ``setHeaderRoute``/``setMirrorRoute`` of that name at or
  before ``i``; one without matches removes the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.spec import (
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    Step,
)
from webhook.spec.steps import describe_step, weight_at

# the text and the weight of a step live with the steps (the dashboard shows them too)
describe = describe_step
__all__ = ["ActiveRoutes", "describe", "route_names", "routes_at", "scale_override_at",
           "weight_at"]


def scale_override_at(steps: tuple[Step, ...], i: int) -> SetCanaryScale | None:
    """The sticky ``setCanaryScale`` in force at ``i``, or ``None`` when replicas follow weight."""
    for step in reversed(steps[: i + 1]):
        if isinstance(step, SetCanaryScale):
            return None if step.match_traffic_weight else step
    return None


@dataclass(frozen=True)
class ActiveRoutes:
    headers: tuple[tuple[int, SetHeaderRoute], ...] = ()
    mirrors: tuple[tuple[int, SetMirrorRoute], ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """``header/name@step`` and ``mirror/name@step`` of every route: the identity recorded in
        the status (a route redefined by a later step is a different route)."""
        items = [f"header/{r.name}@{i}" for i, r in self.headers]
        items += [f"mirror/{r.name}@{i}" for i, r in self.mirrors]
        return tuple(sorted(items))

    @property
    def header_names(self) -> tuple[str, ...]:
        return tuple(r.name for _, r in self.headers)

    @property
    def mirror_names(self) -> tuple[str, ...]:
        return tuple(r.name for _, r in self.mirrors)


def routes_at(steps: tuple[Step, ...], i: int) -> ActiveRoutes:
    headers: dict[str, tuple[int, SetHeaderRoute]] = {}
    mirrors: dict[str, tuple[int, SetMirrorRoute]] = {}
    for j, step in enumerate(steps[: i + 1]):
        if isinstance(step, SetHeaderRoute):
            headers[step.name] = (j, step)
        elif isinstance(step, SetMirrorRoute):
            mirrors[step.name] = (j, step)
    return ActiveRoutes(
        headers=tuple(v for v in headers.values() if v[1].matches),
        mirrors=tuple(v for v in mirrors.values() if v[1].matches),
    )


def route_names(steps: tuple[Step, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every header and every mirror route name the steps mention."""
    headers = dict.fromkeys(s.name for s in steps if isinstance(s, SetHeaderRoute))
    mirrors = dict.fromkeys(s.name for s in steps if isinstance(s, SetMirrorRoute))
    return tuple(headers), tuple(mirrors)
