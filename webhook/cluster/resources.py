"""The kinds of object the embedded cluster serves, and how a resource name maps to them.

A resource is named like kube-apiserver's storage does: ``plural`` for the core group and
``plural.group`` otherwise (``deployments.apps``, ``virtualservices.networking.istio.io``).
Built-in types are a fixed table; custom resources are added and removed as their
CustomResourceDefinitions come and go (``ResourceRegistry.add_crd`` / ``remove``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
READ_ONLY = ("delete", "deletecollection", "get", "list", "watch")
# Subresources that are only ever POSTed (their kind, and their verbs in discovery).
CREATE_ONLY_SUBRESOURCES: dict[str, tuple[str, str, str]] = {
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "eviction": ("policy", "v1", "Eviction"),
}


@dataclass(frozen=True)
class ResourceType:
    """One served resource: its names, scope, versions and subresources."""

    group: str
    kind: str
    plural: str
    namespaced: bool
    versions: tuple[str, ...]  # served versions, preferred (storage) first
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    categories: tuple[str, ...] = ()
    custom: bool = False
    # custom resources only: version -> openAPIV3Schema, and the scale subresource's paths
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scale_paths: tuple[str, str, str] | None = None  # spec replicas, status replicas, selector
    crd_uid: str = ""
    verbs: tuple[str, ...] = ALL_VERBS  # CREATE_ONLY for the reviews, which store nothing
    storage: str = ""  # the key of the resource whose store holds these objects, if another

    @property
    def key(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def store_key(self) -> str:
        """Where the objects are stored: events.k8s.io Events are the core ``events``."""
        return self.storage or self.key

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def version(self) -> str:
        return self.versions[0]

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def api_version(self, version: str | None = None) -> str:
        v = version or self.version
        return f"{self.group}/{v}" if self.group else v

    def qualified(self) -> str:
        """How upstream messages name the resource: ``deployments.apps``, ``pods``."""
        return self.key

    def qualified_kind(self) -> str:
        """How upstream 422 messages name the kind: ``Deployment.apps``, ``Pod``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: Iterable[str] = (),
    sub: Iterable[str] = (),
    categories: Iterable[str] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    return ResourceType(
        group=group,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        versions=(version,),
        short_names=tuple(short),
        subresources=frozenset(sub),
        categories=tuple(categories),
        verbs=verbs,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _b("", "v1", "Namespace", "namespaces", False, ["ns"], ["status"]),
    _b("", "v1", "Pod", "pods", True, ["po"], ["status", "eviction"], ["all"]),
    _b("", "v1", "Service", "services", True, ["svc"], ["status"], ["all"]),
    _b("", "v1", "ConfigMap", "configmaps", True, ["cm"]),
    _b("", "v1", "Secret", "secrets", True),
    _b("", "v1", "Event", "events", True, ["ev"]),
    _b("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"], ["token"]),
    _b("", "v1", "Endpoints", "endpoints", True, ["ep"]),
    # served for reading only (NotRunStrategy): listed by kubectl apply --prune's defaults
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ["pvc"], ["status"],
       verbs=READ_ONLY),
    _b("", "v1", "PersistentVolume", "persistentvolumes", False, ["pv"], ["status"],
       verbs=READ_ONLY),
    _b("", "v1", "ReplicationController", "replicationcontrollers", True, ["rc"],
       ["status", "scale"], ["all"], verbs=READ_ONLY),
    _b("apps", "v1", "DaemonSet", "daemonsets", True, ["ds"], ["status"], ["all"],
       verbs=READ_ONLY),
    _b("apps", "v1", "StatefulSet", "statefulsets", True, ["sts"], ["status", "scale"], ["all"],
       verbs=READ_ONLY),
    _b("apps", "v1", "Deployment", "deployments", True, ["deploy"], ["status", "scale"], ["all"]),
    _b("apps", "v1", "ReplicaSet", "replicasets", True, ["rs"], ["status", "scale"], ["all"]),
    _b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _b("networking.k8s.io", "v1", "Ingress", "ingresses", True, ["ing"], ["status"]),
    _b("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ["netpol"]),
    _b("batch", "v1", "Job", "jobs", True, (), ["status"], ["all"]),
    _b("batch", "v1", "CronJob", "cronjobs", True, ["cj"], ["status"], ["all"]),
    _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"], ["status"]),
    replace(_b("events.k8s.io", "v1", "Event", "events", True), storage="events"),
    _b("coordination.k8s.io", "v1", "Lease", "leases", True),
    _b(
        "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
        ["hpa"], ["status"], ["all"],
    ),
    _b(
        "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations", False, categories=["api-extensions"],
    ),
    _b(
        "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations", False, categories=["api-extensions"],
    ),
    _b(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
        False, ["crd", "crds"], ["status"], ["api-extensions"],
    ),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _b("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False,
       verbs=CREATE_ONLY),
    _b("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=CREATE_ONLY),
    _b("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       True, verbs=CREATE_ONLY),
    _b("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
       False, verbs=CREATE_ONLY),
    _b("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
       verbs=CREATE_ONLY),
    _b("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False,
       verbs=CREATE_ONLY),
)


class ResourceRegistry:
    """Every served resource, by key and by (group, version, plural)."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTINS) -> None:
        self._by_key: dict[str, ResourceType] = {r.key: r for r in builtins}
        self.generation = 0  # bumped on every change, so discovery/OpenAPI caches can refresh

    def get(self, key: str) -> ResourceType | None:
        return self._by_key.get(key)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        rt = self._by_key.get(f"{plural}.{group}" if group else plural)
        if rt is None or version not in rt.versions:
            return None
        return rt

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_key.values():
            if rt.group == group and rt.kind == kind and version in rt.versions:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return list(self._by_key.values())

    def groups(self) -> dict[str, list[ResourceType]]:
        """Group name -> its resources, in a stable order (core group under "")."""
        out: dict[str, list[ResourceType]] = {}
        for rt in self._by_key.values():
            out.setdefault(rt.group, []).append(rt)
        return out

    def put(self, rt: ResourceType) -> None:
        self._by_key[rt.key] = rt
        self.generation += 1

    def remove(self, key: str) -> None:
        if self._by_key.pop(key, None) is not None:
            self.generation += 1


def resource_from_crd(crd: Mapping[str, Any]) -> ResourceType:
    """The served resource a (valid, stored) CustomResourceDefinition describes."""
    spec = crd["spec"]
    names = spec["names"]
    versions = [v for v in spec["versions"] if v.get("served", True)]
    versions.sort(key=lambda v: not v.get("storage", False))
    schemas: dict[str, Mapping[str, Any]] = {}
    subresources: set[str] = set()
    scale_paths: tuple[str, str, str] | None = None
    for v in versions:
        schemas[v["name"]] = (v.get("schema") or {}).get("openAPIV3Schema") or {}
        sub = v.get("subresources") or {}
        if "status" in sub:
            subresources.add("status")
        if "scale" in sub:
            subresources.add("scale")
            sc = sub["scale"]
            scale_paths = (
                sc.get("specReplicasPath", ".spec.replicas"),
                sc.get("statusReplicasPath", ".status.replicas"),
                sc.get("labelSelectorPath", ""),
            )
    return ResourceType(
        group=spec["group"],
        kind=names["kind"],
        plural=names["plural"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        versions=tuple(v["name"] for v in versions),
        short_names=tuple(names.get("shortNames") or ()),
        subresources=frozenset(subresources),
        categories=tuple(names.get("categories") or ()),
        custom=True,
        schemas=schemas,
        scale_paths=scale_paths,
        crd_uid=str(crd.get("metadata", {}).get("uid", "")),
    )
