"""What the rest of canarist needs from the API server, as a Protocol.

``webhook.kube`` is the only package that talks to the API server; routers and the release loop
depend on this small interface, which ``webhook.kube`` implements with the official client.
Objects are plain JSON dicts as the API serves them. Errors are ``webhook.errors.KubeError``
subclasses: ``NotFound``, ``Conflict`` (stale ``resourceVersion`` or already exists),
``Invalid``, ``Forbidden``, ``Unavailable`` (worth retrying).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

JSON = dict[str, Any]
PatchType = Literal["json", "merge", "strategic"]


@dataclass(frozen=True)
class ObjectRef:
    """Names one object: api version, kind, namespace and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: JSON) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            str(meta.get("namespace", "")),
            str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class ObjectClient(Protocol):
    async def get(self, ref: ObjectRef) -> JSON | None:
        """The object, or ``None`` when it does not exist."""
        ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
    ) -> list[JSON]: ...

    async def create(self, obj: JSON) -> JSON:
        """Create ``obj`` (apiVersion, kind and metadata.namespace/name set); ``Conflict`` if it
        exists."""
        ...

    async def replace(self, obj: JSON) -> JSON:
        """Full update guarded by ``metadata.resourceVersion``; ``Conflict`` when stale."""
        ...

    async def patch(self, ref: ObjectRef, patch: Any, *, patch_type: PatchType = "merge") -> JSON:
        ...

    async def delete(self, ref: ObjectRef) -> bool:
        """Delete (background propagation); ``False`` when it was already gone."""
        ...

    async def schema(self, api_version: str, kind: str) -> JSON | None:
        """The OpenAPI v3 schema the server publishes for ``kind`` in ``api_version`` (for a
        custom resource: its CRD's ``openAPIV3Schema``); ``None`` when it does not say (not
        published, not allowed, an offline preview without the CRD)."""
        ...

    async def served_versions(self, group: str) -> tuple[str, ...] | None:
        """The versions of API group ``group`` the server serves (empty: none — e.g. its
        CustomResourceDefinition is not installed); ``None`` when that cannot be known (an
        offline preview told nothing about the cluster)."""
        ...
