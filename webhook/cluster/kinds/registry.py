"""Which strategy serves which built-in resource."""

from __future__ import annotations

from webhook.cluster.auth.rbac.strategies import (
    ClusterRoleBindingStrategy,
    ClusterRoleStrategy,
    RoleBindingStrategy,
    RoleStrategy,
)
from webhook.cluster.kinds.admissionreg import (
    MutatingWebhookConfigurationStrategy,
    ValidatingWebhookConfigurationStrategy,
)
from webhook.cluster.kinds.base import Strategy
from webhook.cluster.kinds.batch import CronJobStrategy, JobStrategy
from webhook.cluster.kinds.core import (
    EndpointSliceStrategy,
    EndpointsStrategy,
    IngressStrategy,
    LeaseStrategy,
    NamespaceStrategy,
    NotRunStrategy,
    ReturnsObject,
    SecretStrategy,
    ServiceStrategy,
)
from webhook.cluster.kinds.crd import CRDStrategy, CustomResourceStrategy
from webhook.cluster.kinds.events import EventStrategy, EventsV1Strategy
from webhook.cluster.kinds.networking import NetworkPolicyStrategy
from webhook.cluster.kinds.policy import PodDisruptionBudgetStrategy
from webhook.cluster.kinds.workloads import DeploymentStrategy, PodStrategy, ReplicaSetStrategy
from webhook.cluster.resources import ResourceType

STRATEGIES: dict[str, type[Strategy]] = {
    "namespaces": NamespaceStrategy,
    "pods": PodStrategy,
    "services": ServiceStrategy,
    "secrets": SecretStrategy,
    "serviceaccounts": ReturnsObject,
    "endpoints": EndpointsStrategy,
    "persistentvolumeclaims": NotRunStrategy,
    "persistentvolumes": NotRunStrategy,
    "replicationcontrollers": NotRunStrategy,
    "daemonsets.apps": NotRunStrategy,
    "statefulsets.apps": NotRunStrategy,
    "events": EventStrategy,
    "events.events.k8s.io": EventsV1Strategy,
    "deployments.apps": DeploymentStrategy,
    "replicasets.apps": ReplicaSetStrategy,
    "jobs.batch": JobStrategy,
    "cronjobs.batch": CronJobStrategy,
    "poddisruptionbudgets.policy": PodDisruptionBudgetStrategy,
    "endpointslices.discovery.k8s.io": EndpointSliceStrategy,
    "ingresses.networking.k8s.io": IngressStrategy,
    "networkpolicies.networking.k8s.io": NetworkPolicyStrategy,
    "leases.coordination.k8s.io": LeaseStrategy,
    "mutatingwebhookconfigurations.admissionregistration.k8s.io":
        MutatingWebhookConfigurationStrategy,
    "validatingwebhookconfigurations.admissionregistration.k8s.io":
        ValidatingWebhookConfigurationStrategy,
    "customresourcedefinitions.apiextensions.k8s.io": CRDStrategy,
    "roles.rbac.authorization.k8s.io": RoleStrategy,
    "clusterroles.rbac.authorization.k8s.io": ClusterRoleStrategy,
    "rolebindings.rbac.authorization.k8s.io": RoleBindingStrategy,
    "clusterrolebindings.rbac.authorization.k8s.io": ClusterRoleBindingStrategy,
}


def custom_strategy(rt: ResourceType) -> Strategy:
    return CustomResourceStrategy(rt)
