"""From ``apiVersion`` + ``kind`` to REST paths: a table of built-in kinds, discovery for the rest.

Built-in kinds canarist touches are known without asking the server. Any other kind (Istio,
Gateway API, SMI, any custom resource) is looked up in the group-version's discovery document
(``GET /apis/{group}/{version}``), cached: answers for kinds that are served are kept, answers
for kinds that are not (CRD not installed) are kept for ``negative_ttl`` seconds so a CRD
installed later is found without a restart.

Paths follow k8s-semantics §3.1: ``/api/v1/...`` for the core group,
``/apis/{group}/{version}/...`` otherwise; ``/namespaces/{ns}`` only for namespaced kinds; a
namespaced kind without a namespace addresses every namespace (lists and watches).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from webhook.errors import NotFound


@dataclass(frozen=True)
class Resource:
    """One served resource: where its objects live."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """``namespace`` is ignored for cluster-scoped kinds; empty means all namespaces."""
        parts = [self.base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


# (group, kind) -> (plural, namespaced); the version comes from the object's apiVersion.
BUILTIN: dict[tuple[str, str], tuple[str, bool]] = {
    ("", "Namespace"): ("namespaces", False),
    ("", "Node"): ("nodes", False),
    ("", "Pod"): ("pods", True),
    ("", "Service"): ("services", True),
    ("", "Endpoints"): ("endpoints", True),
    ("", "ConfigMap"): ("configmaps", True),
    ("", "Secret"): ("secrets", True),
    ("", "Event"): ("events", True),
    ("", "ServiceAccount"): ("serviceaccounts", True),
    ("", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("apps", "Deployment"): ("deployments", True),
    ("apps", "ReplicaSet"): ("replicasets", True),
    ("apps", "StatefulSet"): ("statefulsets", True),
    ("apps", "DaemonSet"): ("daemonsets", True),
    ("autoscaling", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("discovery.k8s.io", "EndpointSlice"): ("endpointslices", True),
    ("networking.k8s.io", "Ingress"): ("ingresses", True),
    ("networking.k8s.io", "IngressClass"): ("ingressclasses", False),
    ("coordination.k8s.io", "Lease"): ("leases", True),
    ("events.k8s.io", "Event"): ("events", True),
    ("rbac.authorization.k8s.io", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        "mutatingwebhookconfigurations",
        False,
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        "validatingwebhookconfigurations",
        False,
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("customresourcedefinitions", False),
}


def builtin(api_version: str, kind: str) -> Resource | None:
    group, version = split_api_version(api_version)
    known = BUILTIN.get((group, kind))
    if known is None or not version:
        return None
    return Resource(group, version, kind, known[0], known[1])


def kinds_in(doc: Mapping[str, Any], api_version: str) -> dict[str, Resource]:
    """The kinds an ``APIResourceList`` document serves (subresources like ``x/status`` left
    out); lenient about anything malformed."""
    group, version = split_api_version(api_version)
    out: dict[str, Resource] = {}
    for item in doc.get("resources") or ():
        if not isinstance(item, Mapping):
            continue
        name, kind = item.get("name"), item.get("kind")
        if not isinstance(name, str) or not isinstance(kind, str) or "/" in name or not name:
            continue
        out.setdefault(kind, Resource(group, version, kind, name, item.get("namespaced") is True))
    return out


def kinds_of_openapi(doc: Mapping[str, Any], group: str, version: str) -> dict[str, Any]:
    """Kind -> schema, from an OpenAPI v3 group-version document's component schemas."""
    out: dict[str, Any] = {}
    schemas = (doc.get("components") or {}).get("schemas") or {}
    for schema in schemas.values() if isinstance(schemas, Mapping) else ():
        if not isinstance(schema, Mapping):
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (
                isinstance(gvk, Mapping)
                and gvk.get("group", "") == group
                and gvk.get("version") == version
                and isinstance(gvk.get("kind"), str)
            ):
                out[gvk["kind"]] = dict(schema)
    return out


# Fetch a discovery document by path; None when the group-version is not served (404).
Fetch = Callable[[str], Mapping[str, Any] | None]


class Resolver:
    """Thread-safe ``(apiVersion, kind) -> Resource`` with cached discovery."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        negative_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = negative_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._served: dict[str, dict[str, Resource]] = {}
        self._missing: dict[str, float] = {}  # api_version -> when the cached answer expires
        self._groups: dict[str, tuple[float, tuple[str, ...]]] = {}  # group -> (expiry, versions)
        self._schemas: dict[str, tuple[float, dict[str, Any]]] = {}  # api_version -> kinds

    def resolve(self, api_version: str, kind: str) -> Resource | None:
        """The resource serving ``kind``, or None when the server does not serve it."""
        found = builtin(api_version, kind)
        if found is not None:
            return found
        with self._lock:
            kinds = self._served.get(api_version)
            if kinds is not None and kind in kinds:
                return kinds[kind]
            if self._missing.get(api_version, 0.0) > self._clock():
                return None
        group, version = split_api_version(api_version)
        if not version:
            return None
        doc = self._fetch(f"/apis/{group}/{version}" if group else f"/api/{version}")
        kinds = kinds_in(doc, api_version) if doc is not None else {}
        with self._lock:
            self._served[api_version] = kinds
            if kind in kinds:
                self._missing.pop(api_version, None)
                return kinds[kind]
            self._missing[api_version] = self._clock() + self._ttl
        return None

    def group_versions(self, group: str) -> tuple[str, ...]:
        """The versions the server serves of ``group`` (its ``APIGroup`` document, ``GET
        /apis/{group}``), cached for ``negative_ttl`` seconds so a CRD installed or changed
        later is seen without a restart; empty when the group is not served."""
        with self._lock:
            cached = self._groups.get(group)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        doc = self._fetch(f"/apis/{quote(group, safe='')}") if group else None
        versions: list[str] = []
        for item in (doc or {}).get("versions") or ():
            version = item.get("version") if isinstance(item, Mapping) else None
            if isinstance(version, str) and version and version not in versions:
                versions.append(version)
        with self._lock:
            self._groups[group] = (self._clock() + self._ttl, tuple(versions))
        return tuple(versions)

    def schema(self, api_version: str, kind: str) -> dict[str, Any] | None:
        """The OpenAPI v3 component schema of ``kind`` (``GET /openapi/v3/apis/{group}/
        {version}``, the one tagged ``x-kubernetes-group-version-kind``), cached for
        ``negative_ttl`` seconds; None when the server publishes none."""
        with self._lock:
            cached = self._schemas.get(api_version)
            if cached is not None and cached[0] > self._clock():
                return cached[1].get(kind)
        group, version = split_api_version(api_version)
        path = f"/openapi/v3/apis/{group}/{version}" if group else f"/openapi/v3/api/{version}"
        doc = self._fetch(path) if version else None
        kinds = kinds_of_openapi(doc, group, version) if doc is not None else {}
        with self._lock:
            self._schemas[api_version] = (self._clock() + self._ttl, kinds)
        return kinds.get(kind)

    def require(self, api_version: str, kind: str) -> Resource:
        found = self.resolve(api_version, kind)
        if found is None:
            raise NotFound(not_served(api_version, kind), status=404, reason="NotFound")
        return found

    def forget(self, api_version: str) -> None:
        """Drop what is cached for ``api_version`` (e.g. after its CRD was installed)."""
        with self._lock:
            self._served.pop(api_version, None)
            self._missing.pop(api_version, None)
            self._groups.pop(split_api_version(api_version)[0], None)


def not_served(api_version: str, kind: str) -> str:
    return (
        f"the API server does not serve {kind} in {api_version or '(no apiVersion)'} "
        "(is its CustomResourceDefinition installed?)"
    )
