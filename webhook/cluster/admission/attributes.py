"""What the API hands the admission chain for one request (upstream admission.Attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from webhook.cluster.auth.user import ADMIN_NAME, UserInfo
from webhook.cluster.resources import ResourceType

ADMIN = ADMIN_NAME


@dataclass(frozen=True)
class Attributes:
    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    version: str
    subresource: str  # "" for the main resource
    namespace: str
    name: str  # "" on CREATE with generateName
    old: dict[str, Any] | None
    user: UserInfo
    dry_run: bool
    options: dict[str, Any] = field(default_factory=dict)
    kind: tuple[str, str, str] | None = None  # (group, version, kind) when not the resource's own


class Admission(Protocol):
    """The admission chain: ``mutate`` returns the (possibly patched) object; ``validate``
    (after the object is valid) raises to refuse it; both add warnings."""

    async def mutate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> dict[str, Any] | None: ...

    async def validate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> None: ...
