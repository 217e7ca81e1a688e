"""Validation messages found while migrating Argo Rollouts examples, live on the embedded cluster
(the admission webhook answers ``kubectl apply``), and Argo's ``name.namespace`` VirtualService
reference released through the reconciler."""

from __future__ import annotations

import itertools

import pytest

from webhook.cluster.runtime import RunningCluster
from webhook.errors import KubeError
from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.kube.protocol import ObjectRef

from .e2e import deployment, harness

pytestmark = pytest.mark.slow
VS_API = "networking.istio.io/v1"
_names = itertools.count()


async def refusal(cluster: RunningCluster, annotations: dict[str, str]) -> str:
    """The admission webhook's answer to creating an opted-in Deployment."""
    ns = f"val{next(_names)}"
    opts = ClientOptions(kubeconfig=str(cluster.kubeconfig), namespace=ns)
    async with connect(opts) as client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        with pytest.raises(KubeError) as refused:
            await client.create(deployment(ns, annotations))
    return str(refused.value)


async def test_empty_steps_said_got_null_null(release_cluster: RunningCluster) -> None:
    message = await refusal(release_cluster, {"canarist.io/steps": ""})
    assert "canarist.io/steps: is empty: list the steps" in message
    assert "null null" not in message


async def test_a_pasted_steps_mapping_said_got_mapping(release_cluster: RunningCluster) -> None:
    pasted = "steps:\n- setWeight: 20\n- pause: {}\nmaxSurge: '20%'\n"
    message = await refusal(release_cluster, {"canarist.io/steps": pasted})
    assert (
        "canarist.io/steps.maxSurge: is not part of the steps: Argo's canary.maxSurge belongs "
        "in the Deployment's spec.strategy.rollingUpdate.maxSurge"
    ) in message
    assert "got mapping" not in message


async def test_argo_virtual_service_name_namespace_failed_only_later(
    release_cluster: RunningCluster,
) -> None:
    """Argo's ``name.namespace`` form passed validation and then failed in the reconciler (it
    looked for a VirtualService named ``web.mesh`` in the Deployment's namespace). It now reads
    and writes the VirtualService in the namespace it names."""
    mesh = f"mesh{next(_names)}"
    annotations = {
        "canarist.io/traffic-router": "istio",
        "canarist.io/istio-virtual-service": f"web.{mesh}:primary",
        "canarist.io/steps": "- setWeight: 20\n- pause: {}\n",
    }
    async with harness(release_cluster, annotations) as h:
        fqdn = f"web.{h.ns}.svc.cluster.local"
        await h.client.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": mesh}}
        )
        vs = {
            "apiVersion": VS_API,
            "kind": "VirtualService",
            "metadata": {"name": "web", "namespace": mesh},
            "spec": {
                "hosts": ["web.example.com"],
                "http": [{"name": "primary", "route": [{"destination": {"host": fqdn}}]}],
            },
        }
        await h.client.create(vs)
        await h.set_version("v2")
        await h.wait("20%", lambda s, d: s.step == 1 and s.weight == 20)

        assert await h.get("VirtualService", "web", VS_API) is None  # not in the Deployment's
        obj = await h.client.get(ObjectRef(VS_API, "VirtualService", mesh, "web"))
        assert obj is not None
        route = obj["spec"]["http"][0]["route"]
        weights = {d["destination"]["host"]: d.get("weight", 0) for d in route}
        assert weights == {fqdn: 80, f"web-canary.{h.ns}.svc.cluster.local": 20}
