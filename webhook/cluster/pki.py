"""The embedded API server's own CA, serving certificate, bearer token and kubeconfig."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from webhook.tls.issue import KeyPair, Names, issue_ca, issue_serving

SERVER_NAMES = Names(
    ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
     "kubernetes.default.svc.cluster.local"),
    (ipaddress.IPv4Address("127.0.0.1"),),
)


@dataclass(frozen=True)
class Credentials:
    ca: KeyPair
    serving: KeyPair
    token: str

    @classmethod
    def generate(cls, extra_ips: tuple[str, ...] = ()) -> Credentials:
        """A fresh CA, token and serving certificate (also valid for ``extra_ips``: the node's
        address, where pods reach the API server)."""
        now = dt.datetime.now(dt.UTC)
        ca = issue_ca(now=now, days=365, common_name="canarist cluster CA")
        names = Names(SERVER_NAMES.dns, SERVER_NAMES.ips + tuple(
            ipaddress.IPv4Address(ip) for ip in extra_ips))
        return cls(ca, issue_serving(ca, names, now=now, days=365),
                   secrets.token_urlsafe(32))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            cert.write_bytes(self.serving.cert_pem)
            key.write_bytes(self.serving.key_pem)
            ctx.load_cert_chain(str(cert), str(key))
        return ctx


def kubeconfig(server: str, creds: Credentials, namespace: str = "default") -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "canarist", "cluster": {
            "server": server,
            "certificate-authority-data": base64.b64encode(creds.ca.cert_pem).decode(),
        }}],
        "users": [{"name": "canarist-admin", "user": {"token": creds.token}}],
        "contexts": [{"name": "canarist", "context": {
            "cluster": "canarist", "user": "canarist-admin", "namespace": namespace}}],
        "current-context": "canarist",
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, server: str, creds: Credentials) -> None:
    """Write atomically with mode 0600 (it holds the token).

    The temporary file is created exclusively under a random name (``mkstemp``: ``O_EXCL``,
    mode 0600), so a file or symlink another user placed in a shared directory is never
    written through; the rename replaces a symlink at ``path`` rather than following it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(kubeconfig(server, creds))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
