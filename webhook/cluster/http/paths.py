"""Request paths -> what is asked for (apiserver's RequestInfoFactory), as a pure function."""

from __future__ import annotations

from dataclasses import dataclass

_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True)
class RequestInfo:
    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    watch_prefix: bool = False  # legacy /api/v1/watch/... path

    @property
    def key(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


def parse_path(path: str) -> RequestInfo | None:
    """The resource request a path names, or None for a non-resource path (discovery...)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
        if not rest:
            return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            # the namespace object itself: /api/v1/namespaces/{name}[/status|/finalize]
            sub = rest[2] if len(rest) > 2 else ""
            return RequestInfo(group, version, "namespaces", "", namespace, sub, watch)
    if len(rest) > 3:
        return None
    return RequestInfo(
        group=group,
        version=version,
        resource=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else "",
        subresource=rest[2] if len(rest) > 2 else "",
        watch_prefix=watch,
    )
