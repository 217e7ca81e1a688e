"""The identities of ``canarist up``'s components that talk to the API server over HTTPS.

The reconciler and the proxy are clients of the embedded API server like any program in a
cluster: each authenticates with a token of its own ServiceAccount in ``canarist-system`` and is
authorized by RBAC, with a ClusterRole holding what the Helm chart's ClusterRole holds with every
router (and the Datadog analysis provider) enabled. So the reconciler is the only user the
admission webhook lets change ``canarist.io/status``
(``system:serviceaccount:canarist-system:canarist-reconciler``), which the admin — kubectl with
the kubeconfig ``up`` writes — is not.

Each token is a TokenRequest for the ServiceAccount, not bound to an object, valid for as long
as the cluster's own certificates (a year: ``TOKEN_SECONDS``); every ``up`` makes a new signing
key, new certificates and new tokens, so nothing outlives the run. The kubeconfigs carrying the
tokens are written into a private directory (mode 0700) of the run, removed when it stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.cluster.pki import Credentials, write_kubeconfig
from webhook.errors import APIStatusError

NAMESPACE = "canarist-system"
TOKEN_SECONDS = 365 * 24 * 60 * 60  # the lifetime of the cluster's CA (pki.Credentials)
RBAC = "rbac.authorization.k8s.io"


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


# The Helm chart's reconciler ClusterRole (charts/canarist/templates/reconciler/rbac.yaml) with
# every router and the Datadog provider enabled, rule for rule (a test renders the chart and
# compares); leader election is not used in ``up``.
RECONCILER_RULES: tuple[dict[str, Any], ...] = (
    _rule(["apps"], ["deployments"], ["get", "list", "watch", "create", "patch", "delete"]),
    _rule(["apps"], ["deployments/status"], ["patch"]),
    _rule(["apps"], ["replicasets"], ["list", "watch"]),
    _rule([""], ["services"], ["list", "watch", "create", "patch", "delete"]),
    _rule([""], ["events"], ["create", "patch"]),
    _rule(["networking.k8s.io"], ["ingresses"], ["get", "create", "update", "delete"]),
    _rule(["networking.istio.io"], ["virtualservices", "destinationrules"], ["get", "update"]),
    _rule(["gateway.networking.k8s.io"], ["httproutes"], ["get", "update"]),
    _rule(["split.smi-spec.io"], ["trafficsplits"], ["get", "create", "update", "delete"]),
    _rule([""], ["configmaps"], ["get", "create", "update", "delete"]),
    _rule([""], ["services"], ["get"]),
    _rule([""], ["secrets"], ["get"]),
)
# The chart's proxy ClusterRole (charts/canarist/templates/proxy/rbac.yaml).
PROXY_RULES: tuple[dict[str, Any], ...] = (
    _rule([""], ["configmaps", "services"], ["list", "watch"]),
    _rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
)


@dataclass(frozen=True)
class Identity:
    """A ServiceAccount in ``canarist-system`` bound to a ClusterRole of the same name."""

    name: str
    rules: tuple[dict[str, Any], ...]

    @property
    def user(self) -> str:
        """The user name its requests carry (and the webhook's ``userInfo.username``)."""
        return f"system:serviceaccount:{NAMESPACE}:{self.name}"


# What the chart's policies Role and Namespaces ClusterRole give the reconciler
# (charts/canarist/templates/policies.yaml), widened to every namespace: ``up
# --policy-configmap NS/NAME`` may name a ConfigMap in any namespace.
POLICY_RULES: tuple[dict[str, Any], ...] = (
    _rule([""], ["configmaps"], ["list", "watch"]),
    _rule([""], ["namespaces"], ["list", "watch"]),
)
RECONCILER = Identity("canarist-reconciler", RECONCILER_RULES + POLICY_RULES)
PROXY = Identity("canarist-proxy", PROXY_RULES)


async def ensure(api: ClusterAPI, resource: str, ns: str | None, obj: dict[str, Any]) -> None:
    """Create ``obj``, or replace the one of that name (as ``kubectl apply`` would)."""
    try:
        await api.create(resource, ns, obj)
    except APIStatusError as exc:
        if exc.status != 409:
            raise
        current = await api.get(resource, ns, obj["metadata"]["name"])
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await api.update(resource, ns, obj)


async def ensure_namespace(api: ClusterAPI) -> None:
    try:
        await api.create("namespaces", None, {"metadata": {"name": NAMESPACE}})
    except APIStatusError as exc:
        if exc.status != 409:
            raise


async def issue(api: ClusterAPI, identity: Identity) -> str:
    """The ServiceAccount, its ClusterRole and ClusterRoleBinding; a token for it."""
    labels = {"app.kubernetes.io/name": "canarist", "app.kubernetes.io/managed-by": "canarist-up"}
    meta = {"name": identity.name, "labels": labels}
    await ensure_namespace(api)
    await ensure(api, "serviceaccounts", NAMESPACE, {"metadata": {**meta,
                                                                  "namespace": NAMESPACE}})
    await ensure(api, f"clusterroles.{RBAC}", None, {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": dict(meta),
        "rules": [dict(r) for r in identity.rules]})
    await ensure(api, f"clusterrolebindings.{RBAC}", None, {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": dict(meta),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": identity.name},
        "subjects": [{"kind": "ServiceAccount", "name": identity.name,
                      "namespace": NAMESPACE}]})
    answer = await api.create("serviceaccounts", NAMESPACE, {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": TOKEN_SECONDS}}, subresource="token", name=identity.name)
    return str(answer["status"]["token"])


async def kubeconfig_for(api: ClusterAPI, identity: Identity, directory: Path, server: str,
                         creds: Credentials) -> Path:
    """Set ``identity`` up and write a kubeconfig authenticating as it into ``directory``."""
    token = await issue(api, identity)
    path = directory / f"{identity.name}.kubeconfig"
    write_kubeconfig(path, server, creds, user=identity.name, token=token, namespace=NAMESPACE)
    return path
