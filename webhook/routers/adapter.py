"""The thin I/O half every router shares: hold the target and client, sync objects.

A router module pairs pure functions (object + desired state -> new object) with a subclass of
``RouterAdapter`` that names the objects and calls ``sync`` with those functions. Methods a
router does not support are harmless no-ops here (admission refuses steps a router cannot do).
"""

from __future__ import annotations

from webhook.kube.protocol import JSON, ObjectClient, ObjectRef
from webhook.routers.base import ReleaseTarget
from webhook.routers.writer import Compute, sync
from webhook.spec import Capability, SetHeaderRoute, SetMirrorRoute


class RouterAdapter:
    name: str = ""
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, target: ReleaseTarget, client: ObjectClient) -> None:
        self.target = target
        self.client = client

    @property
    def owner(self) -> str:
        return self.target.owner.name

    def ref(self, api_version: str, kind: str, name: str) -> ObjectRef:
        return ObjectRef(api_version, kind, self.target.namespace, name)

    async def sync(self, ref: ObjectRef, compute: Compute, *, required: str = "") -> JSON | None:
        return await sync(self.client, ref, compute, required=required)

    async def update_hash(self, canary_hash: str, stable_hash: str) -> None:
        return None

    async def set_weight(self, weight: int) -> None:
        return None

    async def set_header_route(self, route: SetHeaderRoute) -> None:
        return None

    async def set_mirror_route(self, route: SetMirrorRoute) -> None:
        return None

    async def verify_weight(self, weight: int) -> bool | None:
        return None

    async def remove_managed_routes(self) -> None:
        return None

    async def cleanup(self) -> None:
        return None
