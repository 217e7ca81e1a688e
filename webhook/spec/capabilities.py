"""Traffic routers by name and what each can do.

Admission validation reads this table; each router module in ``webhook.routers`` declares its
``capabilities`` from it, so the two cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    WEIGHT = "weight"  # exact traffic percentages
    HEADER = "header"  # header-based routes (setHeaderRoute)
    MIRROR = "mirror"  # mirrored traffic (setMirrorRoute)


ROUTERS: tuple[str, ...] = ("istio", "nginx", "alb", "gateway-api", "smi", "proxy", "none")

_W, _H, _M = Capability.WEIGHT, Capability.HEADER, Capability.MIRROR
CAPABILITIES: dict[str, frozenset[Capability]] = {
    "istio": frozenset({_W, _H, _M}),
    "nginx": frozenset({_W, _H}),
    "alb": frozenset({_W, _H}),
    "gateway-api": frozenset({_W, _H, _M}),
    "smi": frozenset({_W}),
    "proxy": frozenset({_W, _H, _M}),
    # none: the weight is only approximated by the ratio of canary to stable pods.
    "none": frozenset(),
}

# Routers whose header routes can only compare values exactly.
EXACT_HEADERS_ONLY: frozenset[str] = frozenset({"alb"})
# Routers that can express only one header per route.
SINGLE_HEADER_ONLY: frozenset[str] = frozenset({"nginx"})


def routers_with(capability: Capability) -> list[str]:
    return [name for name in ROUTERS if capability in CAPABILITIES[name]]
