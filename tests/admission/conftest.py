"""A webhook served over real TLS on loopback, with a trustme CA the client trusts."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import trustme

from tests.tls.handshake import NAMESPACE, SERVER_NAME, SERVICE, apiserver_context
from webhook.admission.server import Running, serve

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "reviews"


@dataclass
class Pki:
    ca: trustme.CA
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = apiserver_context()
        self.ca.configure_trust(ctx)
        return ctx

    def reissue(self) -> int:
        """A new serving certificate from the same CA, swapped in atomically; its serial."""
        leaf = self.ca.issue_cert(SERVICE, f"{SERVICE}.{NAMESPACE}", SERVER_NAME)
        for path, blob in ((self.key, leaf.private_key_pem), (self.cert, leaf.cert_chain_pems[0])):
            tmp = path.with_name(f".{path.name}.new")
            blob.write_to_path(str(tmp))
            os.replace(tmp, path)
        from cryptography import x509

        return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    leaf = ca.issue_cert(SERVICE, f"{SERVICE}.{NAMESPACE}", SERVER_NAME)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return Pki(ca, cert, key)


@pytest.fixture
async def webhook(pki: Pki) -> AsyncIterator[Running]:
    async with serve(str(pki.cert), str(pki.key), reload_interval=0.05) as running:
        yield running


@pytest.fixture
async def client(pki: Pki) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=pki.client_context(), limit=8)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


def golden(stem: str) -> bytes:
    return (GOLDEN / f"{stem}.request.json").read_bytes()
