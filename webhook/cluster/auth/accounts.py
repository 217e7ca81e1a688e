"""What kube-controller-manager keeps in every namespace, and ClusterRole aggregation.

- the ``default`` ServiceAccount (serviceaccounts-controller): created with the namespace,
  created again when deleted, never in a terminating namespace;
- the ``kube-root-ca.crt`` ConfigMap (root-ca-cert-publisher): ``ca.crt`` is the API server's
  CA, with upstream's description annotation; put back when deleted or edited;
- aggregated ClusterRoles (clusterrole-aggregation controller): rules refilled whenever a
  ClusterRole changes.

Upstream runs these as controllers; here one write hook does the same work synchronously,
right after the write that calls for it, so the state converges before the next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webhook.cluster.auth.authorizer import CLUSTER_ROLES
from webhook.cluster.auth.rbac.aggregation import stale_aggregates
from webhook.cluster.meta import clone, metadata, new_uid, now
from webhook.cluster.resources import ResourceType
from webhook.cluster.store import Event

if TYPE_CHECKING:
    from webhook.cluster.core import APICore

DEFAULT_SA = "default"
ROOT_CA = "kube-root-ca.crt"
DESCRIPTION_KEY = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")
_WATCHED = frozenset({"namespaces", "serviceaccounts", "configmaps", CLUSTER_ROLES})
_MAX_DEPTH = 8  # aggregation writes trigger aggregation; chains settle well before this


def _active(ns: dict[str, Any] | None) -> bool:
    return ns is not None and not metadata(ns).get("deletionTimestamp") and (
        (ns.get("status") or {}).get("phase", "Active") == "Active")


class AccountsHook:
    def __init__(self, api: APICore) -> None:
        self.api = api
        self.root_ca: str | None = None
        self._depth = 0

    def after_write(self, rt: ResourceType, event: Event) -> None:
        if rt.key not in _WATCHED:
            return
        md = metadata(event.obj)
        ns = str(md.get("namespace") or "")
        if rt.key == "namespaces":
            if event.type != "DELETED":
                self.ensure_namespace(str(md.get("name")))
        elif rt.key == "serviceaccounts":
            if event.type == "DELETED" and md.get("name") == DEFAULT_SA:
                self.ensure_namespace(ns)
        elif rt.key == "configmaps":
            if md.get("name") == ROOT_CA:
                self.ensure_namespace(ns)
        elif self._depth < _MAX_DEPTH:
            self._depth += 1
            try:
                self.aggregate()
            finally:
                self._depth -= 1

    def _put(self, resource: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        md.setdefault("uid", new_uid())
        md.setdefault("creationTimestamp", now())
        self.api.commit(self.api.resolve(resource)[0], obj)

    def ensure_namespace(self, ns: str) -> None:
        store = self.api.store
        if not _active(store.get("namespaces", "", ns)):
            return
        if store.get("serviceaccounts", ns, DEFAULT_SA) is None:
            self._put("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": DEFAULT_SA, "namespace": ns}})
        if self.root_ca is None:
            return
        data = {"ca.crt": self.root_ca}
        cm = store.get("configmaps", ns, ROOT_CA)
        if cm is None:
            self._put("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": ROOT_CA, "namespace": ns,
                                                  "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
                                     "data": data})
            return
        annotations = metadata(cm).get("annotations") or {}
        if cm.get("data") == data and annotations.get(DESCRIPTION_KEY):
            return
        fixed = clone(cm)
        fixed["data"] = data
        fixed["metadata"]["annotations"] = {**annotations, DESCRIPTION_KEY: DESCRIPTION}
        self.api.commit(self.api.resolve("configmaps")[0], fixed)

    def publish_root_ca(self, pem: str) -> None:
        self.root_ca = pem
        for ns in list(self.api.store.iter("namespaces")):
            self.ensure_namespace(str(metadata(ns).get("name")))

    def aggregate(self) -> None:
        roles = list(self.api.store.iter(CLUSTER_ROLES))
        rt = self.api.resolve(CLUSTER_ROLES)[0]
        for name, rules in stale_aggregates(roles):
            current = self.api.store.get(CLUSTER_ROLES, "", name)
            if current is None:
                continue
            updated = clone(current)
            updated["rules"] = rules
            self.api.commit(rt, updated)
