"""The webhook server following a policy ConfigMap through the API of the embedded cluster:
``/readyz`` waits for the first document, a change decides the next review within seconds
(no restart), an invalid document is refused whole (the last good one decides, the metrics say
so), and the Namespaces' labels are followed once a policy selects namespaces by label."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
import yaml

from tests.admission.builders import deployment, review, with_image
from tests.admission.conftest import Pki
from tests.tls.handshake import SERVER_NAME
from webhook.admission.server import Running, serve
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.kube.config import ClientOptions
from webhook.kube.policyfeed import ConfigMapRef, following
from webhook.policy import PolicyStore

pytestmark = pytest.mark.slow
HOLDER = "canarist-system"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    running = start_in_thread(without=frozenset({"controllers", "kubelet", "webhook",
                                                 "reconciler"}), bookmark_interval=0.3)
    try:
        for name in (HOLDER, "shop"):
            running.call(running.api.create("namespaces", None, {"metadata": {"name": name}}))
        yield running
    finally:
        running.stop()


def put(cluster: RunningCluster, text: str | None) -> None:
    """The document in the ConfigMap (``None``: the ConfigMap deleted)."""
    api = cluster.api
    current = None
    try:
        current = cluster.call(api.get("configmaps", HOLDER, "policies"))
    except Exception:
        current = None
    if text is None:
        cluster.call(api.delete("configmaps", HOLDER, "policies"))
        return
    body = {"metadata": {"name": "policies"}, "data": {"policies.yaml": text}}
    if current is None:
        cluster.call(api.create("configmaps", HOLDER, body))
    else:
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        cluster.call(api.update("configmaps", HOLDER, body))


def document(namespaces: list[str] | None = None, selector: dict[str, str] | None = None) -> str:
    scope: dict[str, Any] = ({"namespaces": namespaces} if namespaces is not None
                             else {"namespaceSelector": {"matchLabels": selector}})
    return yaml.safe_dump({"policies": [{"name": "adopt", **scope, "adopt": True}]})


@pytest.fixture
async def followed(cluster: RunningCluster, pki: Pki) -> AsyncIterator[Running]:
    options = ClientOptions(kubeconfig=str(cluster.kubeconfig))
    ref = ConfigMapRef(HOLDER, "policies")

    def follow(store: PolicyStore) -> AbstractAsyncContextManager[None]:
        return following(options, store, ref)

    async with serve(str(pki.cert), str(pki.key), follow=follow) as running:
        yield running


async def get(client: aiohttp.ClientSession, running: Running, path: str) -> tuple[int, str]:
    async with client.get(running.url(path), server_hostname=SERVER_NAME) as resp:
        return resp.status, await resp.text()


async def held(client: aiohttp.ClientSession, running: Running) -> bool:
    """Whether an unlabelled Deployment's new image in namespace shop is held."""
    old = deployment(enabled=False, annotations={})
    body = review("UPDATE", with_image(old, "web:2"), old)
    async with client.post(running.url("/mutate"), json=body,
                           server_hostname=SERVER_NAME) as resp:
        answer = (await resp.json())["response"]
    return "patch" in answer


async def eventually(check: Any, what: str, within: float = 10.0) -> None:
    end = time.monotonic() + within
    while not await check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_webhook_follows_the_configmap(cluster: RunningCluster, followed: Running,
                                                 client: aiohttp.ClientSession) -> None:
    async def ready() -> bool:
        return (await get(client, followed, "/readyz"))[0] == 200

    await eventually(ready, "ready")  # no ConfigMap yet: no policies
    assert not await held(client, followed)
    put(cluster, document(["shop"]))

    async def adopted() -> bool:
        return await held(client, followed)

    await eventually(adopted, "the first document deciding")
    started = time.monotonic()
    put(cluster, document(["elsewhere"]))

    async def released() -> bool:
        return not await held(client, followed)

    await eventually(released, "the new document deciding")
    assert time.monotonic() - started < 5
    put(cluster, "policies: {oops: 1}\n")

    async def refused() -> bool:
        return "canarist_policy_document_valid 0" in (await get(client, followed, "/metrics"))[1]

    await eventually(refused, "the refusal")
    metrics = (await get(client, followed, "/metrics"))[1]
    assert 'canarist_policy_loads_total{result="refused"} 1' in metrics
    assert "canarist_policies 1" in metrics  # the last good one
    assert not await held(client, followed)

    # a policy selecting namespaces by label: the Namespaces are followed from then on
    cluster.call(cluster.api.update("namespaces", None, {
        "metadata": {"name": "shop", "labels": {"canary": "yes"}}}))
    put(cluster, document(selector={"canary": "yes"}))

    async def by_label() -> bool:
        return await held(client, followed)

    await eventually(by_label, "the namespace selected by its label")
    put(cluster, None)  # deleted: no policies

    await eventually(released, "no policies")


async def test_readyz_waits_for_the_first_document(cluster: RunningCluster, pki: Pki,
                                                   client: aiohttp.ClientSession) -> None:
    """An API server that does not answer: the webhook serves, but is not ready."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = cluster.kubeconfig.with_name("unreachable.kubeconfig")
    path.write_text(yaml.safe_dump(kubeconfig))
    options = ClientOptions(kubeconfig=str(path))

    def follow(store: PolicyStore) -> AbstractAsyncContextManager[None]:
        return following(options, store, ConfigMapRef(HOLDER, "policies"))

    async with serve(str(pki.cert), str(pki.key), follow=follow) as running:
        await asyncio.sleep(0.5)
        status, text = await get(client, running, "/readyz")
        assert (status, text) == (503, "waiting for the cluster policies\n")
        assert (await get(client, running, "/healthz"))[0] == 200
