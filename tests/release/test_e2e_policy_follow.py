"""The reconciler follows a policy ConfigMap on the embedded cluster: a document adopting a
namespace applies within seconds without a restart, an invalid one is refused whole (the last
good one stays; a Warning Event on the ConfigMap and the metric say so), removing the adoption
hands the Deployment back; a policy selecting namespaces by label starts the Namespaces' watch,
and a namespace's new labels take effect."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.kube.policyfeed import ConfigMapRef
from webhook.kube.protocol import ObjectRef
from webhook.spec import Phase
from webhook.spec.names import ENABLED_LABEL, STATUS

from .e2e import Harness, deployment, service

pytestmark = pytest.mark.slow


def document(ns: str, *, adopt: bool = True) -> str:
    return yaml.safe_dump({"policies": [{
        "name": "platform", "namespaces": [ns], "adopt": adopt,
        "defaults": {"traffic-router": "proxy", "steps": "- setWeight: 25\n- pause: {}"},
    }]})


@asynccontextmanager
async def unlabelled(cluster: RunningCluster, ns: str) -> AsyncIterator[Harness]:
    opts = ClientOptions(kubeconfig=str(cluster.kubeconfig), namespace=ns)
    as_reconciler = ClientOptions(kubeconfig=str(cluster.reconciler_kubeconfig), namespace=ns)
    async with connect(opts) as client, connect(as_reconciler) as reconciler_client:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        await client.create(service(ns))
        body = deployment(ns, {}, replicas=2)
        body["metadata"]["labels"].pop(ENABLED_LABEL)
        await client.create(body)
        h = Harness(cluster, client, ns, reconciler_client)
        try:
            yield h
        finally:
            await h.stop()


async def put_document(h: Harness, text: str) -> None:
    ref = h.ref("ConfigMap", "canarist-policies")
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "canarist-policies", "namespace": h.ns},
            "data": {"policies.yaml": text}}
    if await h.client.get(ref) is None:
        await h.client.create(body)
    else:
        await h.client.patch(ref, {"data": {"policies.yaml": text}})


async def test_a_followed_configmap_adopts_refuses_and_releases(
        release_cluster: RunningCluster) -> None:
    ns = f"follow{int(time.monotonic() * 1000) % 100000}"
    async with unlabelled(release_cluster, ns) as h:
        await put_document(h, "policies: []\n")
        reconciler = await h.start(policy_configmap=ConfigMapRef(ns, "canarist-policies"))
        await h.wait_for("the empty document", lambda: _async(
            reconciler.metrics.policy_loads["accepted"] >= 1))
        assert STATUS not in (await h.deployment())["metadata"].get("annotations", {})

        started = time.monotonic()
        await put_document(h, document(ns))
        status = await h.wait("adoption", lambda s, d: s.phase == Phase.HEALTHY, within=10)
        took = time.monotonic() - started
        assert took < 5, f"the new document took {took:.1f}s"
        assert status.extra["policy"] == "platform"
        d = await h.deployment()
        assert ENABLED_LABEL not in d["metadata"]["labels"]
        assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}  # no restart
        assert await h.get("ConfigMap", "web-canarist-routes") is not None  # proxy, at rest
        applied = await _events(h, "PolicyApplied")
        assert applied and applied[-1]["involvedObject"] == {
            **applied[-1]["involvedObject"], "kind": "ConfigMap", "name": "canarist-policies"}

        await put_document(h, "policies:\n- name: platform\n  namespaces: oops\n")
        refused = await h.wait_for("PolicyRefused", lambda: _events(h, "PolicyRefused"))
        message = refused[-1]["message"]
        assert "policies[0].namespaces: must be a list" in message
        assert "the policies in force stay (1, " in message
        assert refused[-1]["type"] == "Warning"
        assert "canarist_policy_document_valid 0" in reconciler.metrics.render()
        assert (await h.status()).extra["policy"] == "platform"  # the last good one stays

        await put_document(h, document(ns, adopt=False))
        await h.wait("hand-back", lambda s, d: STATUS not in d["metadata"].get("annotations",
                                                                                {}), within=10)
        assert "canarist_policy_document_valid 1" in reconciler.metrics.render()
        assert await h.get("ConfigMap", "web-canarist-routes") is None

        # a policy selecting namespaces by label: the Namespaces are followed from then on
        await h.client.patch(ObjectRef("v1", "Namespace", "", ns),
                             {"metadata": {"labels": {"team": "blue"}}})
        await put_document(h, yaml.safe_dump({"policies": [{
            "name": "blue", "namespaceSelector": {"matchLabels": {"team": "blue"}},
            "adopt": True}]}))
        status = await h.wait("adoption by label", lambda s, d: s.phase == Phase.HEALTHY,
                              within=10)
        assert status.extra["policy"] == "blue"
        await h.client.patch(ObjectRef("v1", "Namespace", "", ns),
                             {"metadata": {"labels": {"team": "red"}}})
        await h.wait("hand-back by label", lambda s, d: STATUS not in d["metadata"].get(
            "annotations", {}), within=10)


async def _async(value: object) -> object:
    return value


async def _events(h: Harness, reason: str) -> list[dict[str, Any]]:
    events = await h.client.list("v1", "Event", h.ns)
    return [e for e in events if e.get("reason") == reason]
