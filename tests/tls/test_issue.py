"""Issued certificates work the way kube-apiserver checks them (SANs, EKU, CA), over real TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.tls.handshake import (
    NAMESPACE,
    SERVER_NAME,
    SERVICE,
    apiserver_context,
    peer_certificate,
    tls_echo_server,
)
from webhook.errors import ConfigError
from webhook.tls import ca_bundle, issue_ca, issue_serving, server_context, service_names
from webhook.tls.files import generate
from webhook.tls.issue import KeyPair, _key_pem, new_key

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _write(tmp: Path, pair: KeyPair) -> tuple[str, str]:
    cert, key = tmp / "tls.crt", tmp / "tls.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    return str(cert), str(key)


def test_service_names() -> None:
    names = service_names("hook", "ops", ["127.0.0.1", "Hook.Example.com.", "hook", "::1"])
    assert names.dns == (
        "hook",
        "hook.ops",
        "hook.ops.svc",
        "hook.ops.svc.cluster.local",
        "hook.example.com",
    )
    assert [str(ip) for ip in names.ips] == ["127.0.0.1", "::1"]


@pytest.mark.parametrize(
    ("service", "namespace", "extra", "message"),
    [
        ("Hook", "ops", [], "--service: must be a DNS label"),
        ("hook", "ops_x", [], "--namespace: must be a DNS label"),
        ("hook", "ops", ["a b"], "--extra-san: must be a DNS name or an IP address, got 'a b'"),
        ("hook", "ops", ["-bad.example"], "--extra-san"),
        ("hook", "ops", ["x" * 300], "--extra-san"),
    ],
)
def test_bad_names_are_refused(
    service: str, namespace: str, extra: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        service_names(service, namespace, extra)


def test_certificate_shape() -> None:
    ca = issue_ca(now=NOW)
    serving = issue_serving(ca, service_names(SERVICE, NAMESPACE, ["10.0.0.7"]), now=NOW, days=30)
    ca_cert, cert = ca.cert, serving.cert
    constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.issuer == ca_cert.subject
    cert.verify_directly_issued_by(ca_cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        SERVICE,
        f"{SERVICE}.{NAMESPACE}",
        SERVER_NAME,
        f"{SERVER_NAME}.cluster.local",
    ]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=30)
    assert cert.not_valid_before_utc < NOW  # backdated for clock skew


def test_serving_never_outlives_its_ca() -> None:
    ca = issue_ca(now=NOW, days=10)
    serving = issue_serving(ca, service_names("a", "b"), now=NOW, days=365)
    assert serving.cert.not_valid_after_utc == ca.cert.not_valid_after_utc


async def test_apiserver_style_handshake_succeeds(tmp_path: Path) -> None:
    ca = issue_ca(now=dt.datetime.now(dt.UTC))
    serving = issue_serving(ca, service_names(SERVICE, NAMESPACE), now=dt.datetime.now(dt.UTC))
    ctx = server_context(*_write(tmp_path, serving))
    async with tls_echo_server(ctx) as port:
        cert = await peer_certificate(port, apiserver_context(cadata=ca.cert_pem))
    assert cert.serial_number == serving.cert.serial_number


async def test_wrong_san_fails(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca = issue_ca(now=now)
    serving = issue_serving(ca, service_names("other", NAMESPACE), now=now)
    async with tls_echo_server(server_context(*_write(tmp_path, serving))) as port:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await peer_certificate(port, apiserver_context(cadata=ca.cert_pem))


async def test_common_name_only_fails(tmp_path: Path) -> None:
    """A certificate naming the Service only in its CN is refused, as Go refuses it."""
    now = dt.datetime.now(dt.UTC)
    ca = issue_ca(now=now)
    key = new_key()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    ca_key = load_pem_private_key(ca.key_pem, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    pair = KeyPair(cert.public_bytes(Encoding.PEM), _key_pem(key))
    async with tls_echo_server(server_context(*_write(tmp_path, pair))) as port:
        with pytest.raises(ssl.SSLCertVerificationError):
            await peer_certificate(port, apiserver_context(cadata=ca.cert_pem))


async def test_other_ca_fails(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    serving = issue_serving(issue_ca(now=now), service_names(SERVICE, NAMESPACE), now=now)
    async with tls_echo_server(server_context(*_write(tmp_path, serving))) as port:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            await peer_certificate(port, apiserver_context(cadata=issue_ca(now=now).cert_pem))


async def test_tls_below_1_2_is_refused(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca = issue_ca(now=now)
    files = _write(tmp_path, issue_serving(ca, service_names(SERVICE, NAMESPACE), now=now))
    old = apiserver_context(cadata=ca.cert_pem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        permissive = server_context(*files)
        permissive.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    async with tls_echo_server(permissive) as port:  # control: the client can speak TLS 1.1
        await peer_certificate(port, old)
    async with tls_echo_server(server_context(*files)) as port:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await peer_certificate(port, old)


def test_ca_bundle_keeps_each_ca_once() -> None:
    a, b = issue_ca(now=NOW), issue_ca(now=NOW)
    bundle = ca_bundle(a.cert_pem, b.cert_pem, a.cert_pem)
    certs = x509.load_pem_x509_certificates(bundle)
    assert [c.serial_number for c in certs] == [a.cert.serial_number, b.cert.serial_number]


def test_generate_writes_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    done = generate(str(out), SERVICE, NAMESPACE, days=7, extra_sans=["localhost"])
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert (out / "tls.key").stat().st_mode & 0o777 == 0o600
    assert "localhost" in done.names.dns
    with pytest.raises(ConfigError, match="pass --force"):
        generate(str(out), SERVICE, NAMESPACE)
    before = (out / "tls.crt").read_bytes()
    generate(str(out), SERVICE, NAMESPACE, force=True)
    assert (out / "tls.crt").read_bytes() != before


async def test_generated_files_serve_like_the_apiserver_expects(tmp_path: Path) -> None:
    """``canarist certs generate`` end to end: the CLI's files, a TLS server, a Go-like client."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "webhook.cli", "certs", "generate", "--service", SERVICE,
           "--namespace", NAMESPACE, "--out", str(out), "--days", "2"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr
    assert f"valid for: {SERVICE}, {SERVICE}.{NAMESPACE}, {SERVER_NAME}" in stdout.decode()
    ctx = server_context(str(out / "tls.crt"), str(out / "tls.key"))
    async with tls_echo_server(ctx) as port:
        cert = await peer_certificate(port, apiserver_context(cafile=str(out / "ca.crt")))
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < dt.timedelta(days=3)


def test_generate_cli_bad_input_exits_2(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "webhook.cli", "certs", "generate", "--service", "Bad!",
           "--namespace", NAMESPACE, "--out", str(tmp_path / "x")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--service: must be a DNS label" in done.stderr
    assert not (tmp_path / "x").exists()  # nothing written
