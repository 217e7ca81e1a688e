"""What the steps say the routers should carry at one step, and how to apply it.

``route_state_at(steps, index)`` is a pure function the release loop and ``canarist render`` share:
the weight of the last ``setWeight`` in steps ``0..index``, and the header and mirror routes added
by those steps and not removed since (a ``setHeaderRoute``/``setMirrorRoute`` without ``match``
removes the route of that name). ``apply_state`` drives one router to that state in the order of
``webhook.routers.base`` (routes, hash, weight), removing routes the steps retired so a restarted
reconciler converges from the cluster's state alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from webhook.routers.base import Router
from webhook.spec import SetHeaderRoute, SetMirrorRoute, SetWeight, Step

_R = TypeVar("_R", SetHeaderRoute, SetMirrorRoute)


@dataclass(frozen=True)
class RouteState:
    """Weight and managed routes in force at one step.

    ``retired`` names routes that steps ``0..index`` set and later removed: a router may still
    carry them if a previous reconcile stopped half-way, so applying the state removes them.
    """

    weight: int = 0
    header_routes: tuple[SetHeaderRoute, ...] = ()
    mirror_routes: tuple[SetMirrorRoute, ...] = ()
    retired_header_routes: tuple[str, ...] = ()
    retired_mirror_routes: tuple[str, ...] = ()


def route_state_at(steps: Sequence[Step], index: int) -> RouteState:
    """The state after steps ``0..index`` (``index < 0``: before the first step; past the end:
    after the last)."""
    weight = 0
    headers: dict[str, SetHeaderRoute] = {}
    mirrors: dict[str, SetMirrorRoute] = {}
    seen_headers: list[str] = []
    seen_mirrors: list[str] = []
    for step in steps[: max(index + 1, 0)]:
        if isinstance(step, SetWeight):
            weight = step.weight
        elif isinstance(step, SetHeaderRoute):
            _remember(seen_headers, step.name)
            _set(headers, step.name, step if step.matches else None)
        elif isinstance(step, SetMirrorRoute):
            _remember(seen_mirrors, step.name)
            _set(mirrors, step.name, step if step.matches else None)
    return RouteState(
        weight=weight,
        header_routes=tuple(headers.values()),
        mirror_routes=tuple(mirrors.values()),
        retired_header_routes=tuple(n for n in seen_headers if n not in headers),
        retired_mirror_routes=tuple(n for n in seen_mirrors if n not in mirrors),
    )


def _remember(seen: list[str], name: str) -> None:
    if name not in seen:
        seen.append(name)


def _set(routes: dict[str, _R], name: str, route: _R | None) -> None:
    """Replace in place (a route keeps its position), append when new, drop on ``None``."""
    if route is None:
        routes.pop(name, None)
    else:
        routes[name] = route


async def apply_state(
    router: Router,
    state: RouteState,
    *,
    canary_hash: str,
    stable_hash: str,
) -> bool | None:
    """Drive ``router`` to ``state``; returns ``verify_weight``'s answer for the state's weight.

    Retired routes go first, then the active ones, the hashes, the weight — the order Argo
    Rollouts uses, so a header route exists before traffic depends on it.
    """
    for name in state.retired_header_routes:
        await router.set_header_route(SetHeaderRoute(name))
    for name in state.retired_mirror_routes:
        await router.set_mirror_route(SetMirrorRoute(name))
    for header in state.header_routes:
        await router.set_header_route(header)
    for mirror in state.mirror_routes:
        await router.set_mirror_route(mirror)
    await router.update_hash(canary_hash, stable_hash)
    await router.set_weight(state.weight)
    return await router.verify_weight(state.weight)
