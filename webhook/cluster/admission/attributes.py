"""What the API hands the admission chain for one request (upstream admission.Attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from webhook.cluster.resources import ResourceType

ADMIN = "system:admin"


@dataclass(frozen=True)
class Attributes:
    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    version: str
    subresource: str  # "" for the main resource
    namespace: str
    name: str  # "" on CREATE with generateName
    old: dict[str, Any] | None
    user: str
    dry_run: bool
    options: dict[str, Any] = field(default_factory=dict)
    kind: tuple[str, str, str] | None = None  # (group, version, kind) when not the resource's own


def user_info(user: str) -> dict[str, Any]:
    """The userInfo kube-apiserver would send for a user name (groups as authenticators set)."""
    groups = ["system:authenticated"]
    if user == ADMIN:
        groups = ["system:masters", "system:authenticated"]
    elif user.startswith("system:serviceaccount:"):
        ns = user.split(":")[2]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    return {"username": user, "groups": groups}


class Admission(Protocol):
    """The admission chain: ``mutate`` returns the (possibly patched) object; ``validate``
    (after the object is valid) raises to refuse it; both add warnings."""

    async def mutate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> dict[str, Any] | None: ...

    async def validate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> None: ...
