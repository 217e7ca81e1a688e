"""The ``kubernetes`` Service in ``default``: how pods find the API server.

As kube-apiserver's bootstrap controller and endpoint reconciler keep it: a ClusterIP Service
(``10.96.0.1``, port 443 named ``https``, no selector, labels ``component: apiserver`` and
``provider: kubernetes``) and an EndpointSlice ``kubernetes`` (label
``kubernetes.io/service-name``) whose one ready endpoint is the address and port the API
server listens on. A pod's ``KUBERNETES_SERVICE_HOST``/``_PORT`` come from the EndpointSlice:
the embedded cluster has no kube-proxy to carry the cluster IP to it.
"""

from __future__ import annotations

from typing import Any

from webhook.cluster.api import ClusterAPI
from webhook.errors import APIStatusError

NAME, NAMESPACE = "kubernetes", "default"
CLUSTER_IP = "10.96.0.1"


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                "targetPort": 6443}]}}


def endpoint_slice(host: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


def address(api: ClusterAPI) -> tuple[str, int] | None:
    """(host, port) of the API server as the ``kubernetes`` EndpointSlice gives it: what a
    pod's ``KUBERNETES_SERVICE_HOST``/``_PORT`` are set to."""
    eps = api.store.get("endpointslices.discovery.k8s.io", NAMESPACE, NAME) or {}
    try:
        return str(eps["endpoints"][0]["addresses"][0]), int(eps["ports"][0]["port"])
    except (TypeError, KeyError, IndexError, ValueError):
        return None


async def publish(api: ClusterAPI, host: str, port: int) -> None:
    """Create (or point at this server) the Service and its EndpointSlice."""
    svc = service()
    svc["spec"]["ports"][0]["targetPort"] = port
    for resource, obj in (("services", svc),
                          ("endpointslices.discovery.k8s.io", endpoint_slice(host, port))):
        try:
            await api.create(resource, NAMESPACE, obj)
        except APIStatusError as exc:
            if exc.status != 409:
                raise
            current = await api.get(resource, NAMESPACE, NAME)
            await api.update(resource, NAMESPACE, {**current, **{
                k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}})
