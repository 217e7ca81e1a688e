"""Which strategy serves which built-in resource."""

from __future__ import annotations

from webhook.cluster.auth.rbac.strategies import (
    ClusterRoleBindingStrategy,
    ClusterRoleStrategy,
    RoleBindingStrategy,
    RoleStrategy,
)
from webhook.cluster.kinds.admissionreg import MutatingWebhookConfigurationStrategy
from webhook.cluster.kinds.base import Strategy
from webhook.cluster.kinds.core import (
    EndpointSliceStrategy,
    IngressStrategy,
    LeaseStrategy,
    NamespaceStrategy,
    ReturnsObject,
    SecretStrategy,
    ServiceStrategy,
)
from webhook.cluster.kinds.crd import CRDStrategy, CustomResourceStrategy
from webhook.cluster.kinds.workloads import DeploymentStrategy, PodStrategy, ReplicaSetStrategy
from webhook.cluster.resources import ResourceType

STRATEGIES: dict[str, type[Strategy]] = {
    "namespaces": NamespaceStrategy,
    "pods": PodStrategy,
    "services": ServiceStrategy,
    "secrets": SecretStrategy,
    "serviceaccounts": ReturnsObject,
    "deployments.apps": DeploymentStrategy,
    "replicasets.apps": ReplicaSetStrategy,
    "endpointslices.discovery.k8s.io": EndpointSliceStrategy,
    "ingresses.networking.k8s.io": IngressStrategy,
    "leases.coordination.k8s.io": LeaseStrategy,
    "mutatingwebhookconfigurations.admissionregistration.k8s.io":
        MutatingWebhookConfigurationStrategy,
    "customresourcedefinitions.apiextensions.k8s.io": CRDStrategy,
    "roles.rbac.authorization.k8s.io": RoleStrategy,
    "clusterroles.rbac.authorization.k8s.io": ClusterRoleStrategy,
    "rolebindings.rbac.authorization.k8s.io": RoleBindingStrategy,
    "clusterrolebindings.rbac.authorization.k8s.io": ClusterRoleBindingStrategy,
}


def custom_strategy(rt: ResourceType) -> Strategy:
    return CustomResourceStrategy(rt)
