"""``canarist up`` serves canarist's admission webhook and registers it, as the Helm chart does.

The webhook runs in-process on 127.0.0.1 (any free port) with a certificate for
``canarist-webhook.canarist-system.svc``; a selector-less Service of that name and an
EndpointSlice pointing at the listener make the API server reach it through an ordinary
service reference, with the caBundle and SAN checked like in a real cluster. The
MutatingWebhookConfiguration opts Deployments in by label (``canarist.io/enabled: "true"``)
and, with ``canarist up --policy FILE``, covers the policies' namespaces as the chart does
(``webhook.policy.webhooks``),
covers ``deployments`` and ``deployments/status`` (whose writes keep annotation changes), fails
closed and times out after 5 s.

Only the reconciler may change ``canarist.io/status`` (``--trusted-user``): it authenticates as
its ServiceAccount ``canarist-system/canarist-reconciler`` (``webhook.cluster.identities``), so
the trusted user is ``system:serviceaccount:canarist-system:canarist-reconciler``. Everyone else
— the admin (kubectl with the kubeconfig ``up`` writes), other tokens, impersonated users, the
in-process ``api.update(..., user=...)`` — has a change of the annotation undone, with a warning.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from webhook.cluster import identities
from webhook.cluster.api import ClusterAPI
from webhook.cluster.identities import RECONCILER, ensure
from webhook.policy import EMPTY, PolicySet, PolicyStore
from webhook.policy.webhooks import entries

NAMESPACE = identities.NAMESPACE
SERVICE = "canarist-webhook"
CONFIG = "canarist"
WEBHOOK = "deployments.canarist.io"
MWC = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
RECONCILER_USER = RECONCILER.user  # who the reconciler's requests come from
SLICES = "endpointslices.discovery.k8s.io"
EXCLUDED = ("kube-system", "kube-node-lease", NAMESPACE)  # never served, by name


def configuration(ca_pem: bytes, policies: PolicySet = EMPTY) -> dict[str, Any]:
    """The opt-in label's entry, and the entries for the policies' namespaces (as the chart)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIG, "labels": {"app.kubernetes.io/name": "canarist"}},
        "webhooks": entries(_label_entry(ca_pem), policies, EXCLUDED),
    }


def _label_entry(ca_pem: bytes) -> dict[str, Any]:
    return {
        "name": WEBHOOK,
        "clientConfig": {
            "service": {"name": SERVICE, "namespace": NAMESPACE, "path": "/mutate",
                        "port": 443},
            "caBundle": base64.b64encode(ca_pem).decode(),
        },
        "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"],
                   "apiVersions": ["v1"],
                   "resources": ["deployments", "deployments/status"],
                   "scope": "Namespaced"}],
        "objectSelector": {"matchLabels": {"canarist.io/enabled": "true"}},
        "namespaceSelector": {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "NotIn",
            "values": list(EXCLUDED)}]},
        "failurePolicy": "Fail",
        "timeoutSeconds": 5,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }


async def register(api: ClusterAPI, port: int, ca_pem: bytes,
                   policies: PolicySet = EMPTY) -> None:
    """Namespace, Service, EndpointSlice and MutatingWebhookConfiguration for the webhook."""
    await ensure(api, "namespaces", None, {"metadata": {"name": NAMESPACE}})
    await ensure(api, "services", NAMESPACE, {
        "metadata": {"name": SERVICE},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}})
    await ensure(api, SLICES, NAMESPACE, {
        "metadata": {"name": f"{SERVICE}-local", "labels": {
            "kubernetes.io/service-name": SERVICE,
            "endpointslice.kubernetes.io/managed-by": "canarist-up"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"],
                       "conditions": {"ready": True, "serving": True, "terminating": False}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]})
    await ensure(api, MWC, None, configuration(ca_pem, policies))


async def run_webhook(api: ClusterAPI, stop: asyncio.Event, *,
                      ready: asyncio.Event | None = None, kubeconfig: Path | None = None,
                      policies: PolicySet | None = None) -> None:
    """``policies`` (``canarist up --policy FILE``): decided under them, with the webhook
    entries for their namespaces; the Namespaces' labels are followed through the API (with
    ``kubeconfig``) when a policy selects namespaces by label."""
    from webhook.admission.server import serve
    from webhook.kube.config import ClientOptions
    from webhook.kube.policyfeed import following
    from webhook.tls.files import generate

    follow = None
    if policies is not None and policies.needs_namespace_labels and kubeconfig is not None:
        options = ClientOptions(kubeconfig=str(kubeconfig))

        def follow(store: PolicyStore) -> AbstractAsyncContextManager[None]:
            return following(options, store, None)
    with tempfile.TemporaryDirectory(prefix="canarist-webhook-") as tmp:
        certs = generate(tmp, SERVICE, NAMESPACE)
        ca_path, cert_path, key_path = (str(p) for p in certs.paths)
        trusted = frozenset({RECONCILER_USER})
        async with serve(cert_path, key_path, "127.0.0.1", 0, trusted_users=trusted,
                         policies=policies or None, follow=follow) as running:
            await register(api, running.port, certs.ca.cert_pem, policies or EMPTY)
            if ready is not None:
                ready.set()
            await stop.wait()
        del ca_path
