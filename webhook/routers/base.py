"""The traffic-router interface, modelled on Argo Rollouts' ``TrafficRoutingReconciler``.

The release loop holds a list of routers (built by ``webhook.routers.build_routers`` from the
canary spec) and only ever iterates over it. For each reconcile of a traffic-routed release it
calls, in order: ``set_header_route``/``set_mirror_route`` for the current step's routes,
``update_hash``, ``set_weight``, then ``verify_weight``; ``remove_managed_routes`` when a release
ends (promotion, abort, a new revision with no available pod); ``cleanup`` when the Deployment is
deleted or leaves canarist (opt-in label removed). ``webhook.routers.state.apply_state`` runs the
per-reconcile sequence for one step.

Every method is idempotent and level-based: it reads the routing objects, computes the desired
shape with a pure function of this router's module, and writes only when the shape changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from webhook.kube.protocol import ObjectClient
from webhook.spec import CanarySpec, Capability, SetHeaderRoute, SetMirrorRoute


@dataclass(frozen=True)
class Owner:
    """The user's Deployment: the owner of everything canarist creates for its releases."""

    name: str
    uid: str
    api_version: str = "apps/v1"
    kind: str = "Deployment"

    def reference(self, *, controller: bool = True) -> dict[str, object]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": controller,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class ReleaseTarget:
    """What a router needs to know about the Deployment being released."""

    namespace: str
    owner: Owner
    stable_service: str
    canary_service: str
    spec: CanarySpec


class Router(Protocol):
    """One traffic router. ``capabilities`` is read by admission validation (through
    ``webhook.spec.CAPABILITIES``, which each router module declares its value from)."""

    name: str
    capabilities: frozenset[Capability]

    async def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        """Pin hash-labelled selections (DestinationRule subsets, route tables) to the revisions."""
        ...

    async def set_weight(self, weight: int) -> None:
        """Send ``weight`` percent (0–100) of the traffic to the canary, the rest to stable."""
        ...

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        """Create or replace the named header route; a route without matches removes it."""
        ...

    async def set_mirror_route(self, route: SetMirrorRoute) -> None:
        """Create or replace the named mirror route; a route without matches removes it."""
        ...

    async def verify_weight(self, weight: int) -> bool | None:
        """Whether the data plane applies ``weight``; ``None`` when the router cannot tell."""
        ...

    async def remove_managed_routes(self) -> None:
        """Remove every header and mirror route canarist added for this Deployment."""
        ...

    async def cleanup(self) -> None:
        """Undo everything canarist did for this Deployment (it was deleted, or left canarist):
        all traffic back on stable, managed routes and added destinations removed, the objects
        canarist created deleted, and this Deployment's record dropped from shared objects."""
        ...


__all__ = ["ObjectClient", "Owner", "ReleaseTarget", "Router"]
