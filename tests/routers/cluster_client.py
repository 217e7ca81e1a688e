"""An ObjectClient over the embedded cluster's in-process API, for the router tests.

It speaks ``webhook.kube.protocol.ObjectClient`` the way ``webhook.kube`` will (errors mapped to
``NotFound``/``Conflict``/``Invalid``...), so the real router classes write through the cluster's
own validation (CRD schemas), resourceVersion checks and garbage collector. The cluster runs on
its own loop in a thread; calls hop there and back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from webhook.cluster.http import discovery
from webhook.cluster.runtime import RunningCluster
from webhook.errors import (
    APIStatusError,
    Conflict,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    Unavailable,
)
from webhook.kube.protocol import JSON, ObjectRef, PatchType

T = TypeVar("T")
RESOURCES = {
    ("", "ConfigMap"): "configmaps",
    ("", "Service"): "services",
    ("", "Namespace"): "namespaces",
    ("apps", "Deployment"): "deployments.apps",
    ("networking.k8s.io", "Ingress"): "ingresses.networking.k8s.io",
    ("networking.istio.io", "VirtualService"): "virtualservices.networking.istio.io",
    ("networking.istio.io", "DestinationRule"): "destinationrules.networking.istio.io",
    ("gateway.networking.k8s.io", "HTTPRoute"): "httproutes.gateway.networking.k8s.io",
    ("split.smi-spec.io", "TrafficSplit"): "trafficsplits.split.smi-spec.io",
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
    ): "customresourcedefinitions.apiextensions.k8s.io",
}
_ERRORS: dict[int, type[KubeError]] = {
    404: NotFound,
    409: Conflict,
    422: Invalid,
    401: Forbidden,
    403: Forbidden,
}


def resource(api_version: str, kind: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return RESOURCES[(group, kind)], version


class ClusterClient:
    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.writes: list[tuple[str, ObjectRef]] = []

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.cluster.loop)
        try:
            return await asyncio.wrap_future(future)
        except APIStatusError as exc:
            raise _ERRORS.get(exc.status, Unavailable)(
                str(exc), status=exc.status, reason=exc.reason
            ) from exc

    async def get(self, ref: ObjectRef) -> JSON | None:
        name, version = resource(ref.api_version, ref.kind)
        try:
            return await self._call(
                self.cluster.api.get(name, ref.namespace, ref.name, version=version)
            )
        except NotFound:
            return None

    async def schema(self, api_version: str, kind: str) -> JSON | None:
        name, version = resource(api_version, kind)

        async def read() -> JSON | None:
            found = self.cluster.api.registry.get(name)
            schema = found.schemas.get(version) if found is not None else None
            return dict(schema) if schema is not None else None

        return await self._call(read())

    async def served_versions(self, group: str) -> tuple[str, ...]:
        async def read() -> tuple[str, ...]:
            doc = discovery.group_doc(self.cluster.api.registry, group) or {}
            return tuple(v["version"] for v in doc.get("versions") or ())

        return await self._call(read())

    async def list(
        self, api_version: str, kind: str, namespace: str, *, label_selector: str | None = None
    ) -> list[JSON]:
        name, version = resource(api_version, kind)
        items, _ = await self._call(
            self.cluster.api.list(
                name, namespace or None, label_selector=label_selector, version=version
            )
        )
        return list(items)

    async def create(self, obj: JSON) -> JSON:
        ref = ObjectRef.of(obj)
        name, version = resource(ref.api_version, ref.kind)
        self.writes.append(("create", ref))
        return await self._call(
            self.cluster.api.create(name, ref.namespace or None, obj, version=version)
        )

    async def replace(self, obj: JSON) -> JSON:
        ref = ObjectRef.of(obj)
        name, version = resource(ref.api_version, ref.kind)
        self.writes.append(("replace", ref))
        return await self._call(
            self.cluster.api.update(name, ref.namespace or None, obj, version=version)
        )

    async def patch(self, ref: ObjectRef, patch: Any, *, patch_type: PatchType = "merge") -> JSON:
        name, version = resource(ref.api_version, ref.kind)
        self.writes.append(("patch", ref))
        return await self._call(
            self.cluster.api.patch(
                name, ref.namespace or None, ref.name, patch, patch_type, version=version
            )
        )

    async def delete(self, ref: ObjectRef) -> bool:
        name, version = resource(ref.api_version, ref.kind)
        try:
            await self._call(
                self.cluster.api.delete(
                    name,
                    ref.namespace or None,
                    ref.name,
                    propagation_policy="Background",
                    version=version,
                )
            )
        except NotFound:
            return False
        self.writes.append(("delete", ref))
        return True
