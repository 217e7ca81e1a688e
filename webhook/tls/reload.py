"""A server TLS context whose certificate and key are reloaded from their files while serving.

The context handed to the server carries an SNI callback (OpenSSL calls it on every ClientHello,
with or without a server name). The callback points the handshake at the most recently loaded
context, so a new certificate is used from the next handshake on, while connections already
established keep theirs: no restart, no dropped request.

``check()`` compares the files' identity (inode, size, mtime) with what was loaded and loads a
fresh context when they differ; ``watch()`` calls it periodically. Kubernetes updates a mounted
Secret by swapping a symlink, which changes the inode. A half-written pair (new certificate, old
key) fails to load: the old context keeps serving and the next check tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from webhook.errors import TLSConfigError

log = logging.getLogger("canarist.tls")

Signature = tuple[tuple[int, int, int, int], ...]


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """TLS 1.2+ server context with the certificate chain and key from these files."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(cert_path, key_path)
    except FileNotFoundError as exc:
        raise TLSConfigError(f"cannot read {exc.filename}: no such file") from exc
    except OSError as exc:
        why = exc.strerror or getattr(exc, "reason", None) or str(exc)
        raise TLSConfigError(
            f"cannot load TLS certificate {cert_path} with key {key_path}: {why}"
        ) from exc
    return ctx


def not_after(cert_path: str) -> float:
    """Expiry (epoch seconds) of the first certificate in a PEM file; 0 if unreadable."""
    try:
        with open(cert_path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
    except (OSError, ValueError):
        return 0.0
    return cert.not_valid_after_utc.timestamp()


@dataclass(frozen=True)
class Loaded:
    context: ssl.SSLContext
    signature: Signature
    not_after: float


class ReloadingContext:
    """The server side of TLS, following changes of a certificate and key file."""

    def __init__(self, cert_path: str, key_path: str) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.reloads = 0
        self.failures = 0
        self.last_error = ""
        self._failed: Signature | None = None
        self._loaded = self._load(self._signature())
        self.context = self._loaded.context  # what the server listens with
        self.context.sni_callback = self._on_client_hello

    @property
    def not_after(self) -> float:
        """Expiry (epoch seconds) of the certificate being served."""
        return self._loaded.not_after

    def check(self) -> bool:
        """Reload if the files changed; True when a new certificate is now being served."""
        signature = self._signature()
        if signature == self._loaded.signature:
            return False
        try:
            loaded = self._load(signature)
        except TLSConfigError as exc:
            self.last_error = str(exc)
            if signature != self._failed:  # say it once per change of the files
                self._failed = signature
                self.failures += 1
                log.warning(
                    "tls reload failed, still serving the previous certificate",
                    extra={"fields": {"error": str(exc)}},
                )
            return False
        self._loaded = loaded
        self._failed = None
        self.last_error = ""
        self.reloads += 1
        log.info(
            "tls certificate reloaded",
            extra={"fields": {"cert": self.cert_path, "not_after": int(loaded.not_after)}},
        )
        return True

    async def watch(self, interval: float, on_reload: Callable[[], None] | None = None) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            if self.check() and on_reload is not None:
                on_reload()

    # --- internals -------------------------------------------------------------------------

    def _on_client_hello(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext
    ) -> None:
        current = self._loaded.context
        if ctx is not current:
            conn.context = current

    def _signature(self) -> Signature:
        out = []
        for path in (self.cert_path, self.key_path):
            try:
                st = os.stat(path)
            except OSError:
                out.append((0, 0, 0, 0))
                continue
            out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _load(self, signature: Signature) -> Loaded:
        context = server_context(self.cert_path, self.key_path)
        return Loaded(context, signature, not_after(self.cert_path))
