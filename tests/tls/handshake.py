"""Handshakes as kube-apiserver makes them: dial 127.0.0.1, verify the Service's DNS name."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cryptography import x509

SERVICE = "canarist-webhook"
NAMESPACE = "canarist"
SERVER_NAME = f"{SERVICE}.{NAMESPACE}.svc"


def apiserver_context(cafile: str | None = None, cadata: bytes | None = None) -> ssl.SSLContext:
    """Verify like Go's crypto/tls: the chain against the caBundle, the name against SANs only."""
    ctx = ssl.create_default_context(
        cafile=cafile, cadata=cadata.decode() if cadata is not None else None
    )
    ctx.hostname_checks_common_name = False  # Go ignores the CommonName since 1.15
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@asynccontextmanager
async def tls_echo_server(ctx: ssl.SSLContext) -> AsyncIterator[int]:
    """A loopback TLS server with ``ctx`` that answers each line with 'ok'; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                writer.write(b"ok\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def peer_certificate(
    port: int, ctx: ssl.SSLContext, server_name: str = SERVER_NAME
) -> x509.Certificate:
    """Connect to 127.0.0.1:port verifying ``server_name``; the certificate the server showed."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_name), 5
    )
    try:
        writer.write(b"ping\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"ok\n"
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()
