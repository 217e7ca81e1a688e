"""The cluster policies the CLI reads: for ``canarist policy explain``, and the policy that
``promote --full`` must respect.

The policies come from ``--policy FILE``, or from the ConfigMap the webhook and the reconciler
follow (``--policy-configmap``, default ``canarist-system/canarist-policies``, key
``policies.yaml``). A missing ConfigMap means no policies; one the CLI may not read, or whose
document is invalid, is said on stderr and counts as none (the reconciler applies what it holds
in force either way). Policies selecting namespaces by label read the Namespace's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from webhook.errors import Forbidden, PolicyError
from webhook.kube.client import KubeClient
from webhook.kube.policyfeed import ConfigMapRef
from webhook.kube.protocol import ObjectRef
from webhook.policy import ClusterPolicy, PolicySet, parse_policies

DEFAULT_CONFIGMAP = ConfigMapRef("canarist-system", "canarist-policies")
PolicySource = PolicySet | ConfigMapRef


async def read_policies(client: KubeClient, source: PolicySource, err: TextIO) -> PolicySet:
    if isinstance(source, PolicySet):
        return source
    ref = ObjectRef("v1", "ConfigMap", source.namespace, source.name)
    try:
        cm = await client.get(ref)
    except Forbidden as exc:
        print(f"canarist: cannot read the policies in {source}: {exc}", file=err)
        return PolicySet()
    if cm is None:
        return PolicySet()
    data = cm.get("data") if isinstance(cm.get("data"), dict) else {}
    text = data.get(source.key) if isinstance(data, dict) else None
    if not isinstance(text, str):
        print(f"canarist: {source} has no key {source.key}: no policies", file=err)
        return PolicySet()
    try:
        return parse_policies(text, str(source))
    except PolicyError as exc:
        print(f"canarist: {exc}\n(the reconciler keeps the last valid document in force)",
              file=err)
        return PolicySet()


async def policy_for(client: KubeClient, policies: PolicySet,
                     deployment: Mapping[str, object]) -> ClusterPolicy | None:
    meta = deployment.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ns = str(meta.get("namespace") or "")
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    ns_labels = None
    if policies.needs_namespace_labels:
        namespace = await client.get(ObjectRef("v1", "Namespace", "", ns))
        found = ((namespace or {}).get("metadata") or {}).get("labels")
        ns_labels = found if isinstance(found, dict) else None
    return policies.match(ns, labels or {}, ns_labels)
