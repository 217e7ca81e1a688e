"""The shared servers of the hostile-input runner: a ``canarist webhook`` process over TLS and an
embedded cluster (API server only) for the proxy's cluster mode."""

from __future__ import annotations

import http.client
import itertools
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from tests.admission.process import start_webhook
from webhook.cluster.runtime import RunningCluster, start_in_thread
from webhook.spec.routetable import ROUTE_TABLE_KEY, ROUTE_TABLE_LABEL

SERVER_NAME = "canarist-webhook.canarist.svc"


@dataclass
class WebhookProcess:
    proc: subprocess.Popen[bytes]
    port: int
    ctx: ssl.SSLContext
    log: Path

    def post(self, body: bytes) -> tuple[int, str]:
        """POST a review over TLS (checking the certificate's name) and read the answer."""
        raw = socket.create_connection(("127.0.0.1", self.port), 15)
        with self.ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as sock:
            head = (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {SERVER_NAME}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n")
            sock.sendall(head.encode() + body)
            response = http.client.HTTPResponse(sock)
            response.begin()
            return response.status, response.read().decode()


@pytest.fixture(scope="module")
def hostile_webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookProcess]:
    """``canarist webhook`` as in a container; after the module, its log has no traceback."""
    tmp = tmp_path_factory.mktemp("hostile-webhook")
    ca = trustme.CA()
    leaf = ca.issue_cert(SERVER_NAME)
    leaf.cert_chain_pems[0].write_to_path(str(tmp / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(tmp / "tls.key"))
    log = tmp / "webhook.log"
    proc, port = start_webhook(tmp / "tls.crt", tmp / "tls.key", log)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    try:
        yield WebhookProcess(proc, port, ctx, log)
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]
        assert proc.poll() is None, "the webhook died"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # a webhook stuck in a parse ignores SIGTERM
            proc.kill()
            proc.wait()


@dataclass
class TableCluster:
    running: RunningCluster
    names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def kubeconfig(self) -> Path:
        return self.running.kubeconfig

    def namespace(self) -> str:
        name = f"hostile{next(self.names)}"
        self.running.call(self.running.api.create("namespaces", None,
                                                  {"metadata": {"name": name}}))
        return name

    def put_table(self, ns: str, name: str, text: str) -> None:
        self.running.call(self.running.api.create("configmaps", ns, {
            "metadata": {"name": name, "labels": {ROUTE_TABLE_LABEL: "true"}},
            "data": {ROUTE_TABLE_KEY: text}}))


@pytest.fixture(scope="module")
def hostile_cluster() -> Iterator[TableCluster]:
    running = start_in_thread(without=frozenset({"controllers", "kubelet", "webhook",
                                                 "reconciler"}))
    try:
        yield TableCluster(running)
    finally:
        running.stop()
