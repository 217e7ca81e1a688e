"""The routers of one reconcile, built on first use (most reconciles drive none)."""

from __future__ import annotations

from collections.abc import Sequence

from webhook.kube.protocol import ObjectClient
from webhook.release.model import DeploymentView, World
from webhook.release.services import StableChoice, find_stable
from webhook.routers import Owner, ReleaseTarget, Router, build_routers
from webhook.spec import CanarySpec


class RouterCache:
    """The routers of one reconcile, built on first use (most reconciles drive none)."""

    def __init__(self, client: ObjectClient, world: World) -> None:
        self.client = client
        self.world = world
        self._routers: Sequence[Router] | None = None

    async def get(self) -> Sequence[Router]:
        if self._routers is None:
            self._routers = self._build()
        return self._routers

    def _build(self) -> Sequence[Router]:
        spec, d = self.world.spec, self.world.deployment
        if spec is None or not spec.traffic_routed:
            return ()
        choice = find_stable(self.world, spec.stable_service, spec.canary_service)
        return build_routers(release_target(d, spec, choice), self.client)

    async def verify(self, weight: int) -> bool | None:
        answers = [await r.verify_weight(weight) for r in await self.get()]
        known = [a for a in answers if a is not None]
        if not known:
            return None
        return all(known)


def release_target(d: DeploymentView, spec: CanarySpec, choice: StableChoice) -> ReleaseTarget:
    """What a Deployment's routers steer: its stable Service (the one found, else the configured
    one, else the Deployment's name) and the canary Service named after it."""
    stable = choice.service.name if choice.service else (spec.stable_service or d.name)
    return ReleaseTarget(
        namespace=d.namespace,
        owner=Owner(d.name, d.uid),
        stable_service=stable,
        canary_service=spec.canary_service_for(stable),
        spec=spec,
    )
