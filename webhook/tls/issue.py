"""Issuing the webhook's certificates with ``cryptography``: pure functions of their inputs.

A CA (basicConstraints CA:true, keyCertSign) signs a serving certificate whose SANs are the
names the API server dials for a Service reference — it verifies ``<svc>.<ns>.svc`` and ignores
the CommonName — plus any extra DNS names or IP addresses. Keys are ECDSA P-256: small, fast
to generate and to handshake with, and accepted by Go's TLS stack.

Nothing here reads or writes files or talks to Kubernetes: ``webhook.tls.store`` keeps
certificates, and the in-cluster mode keeps them in a Secret through the same interface.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.errors import ConfigError, Problem, TLSConfigError

DEFAULT_DAYS = 365
DEFAULT_CA_DAYS = 3650
CLOCK_SKEW = dt.timedelta(minutes=5)  # backdate notBefore: peers' clocks differ a little
MIN_LIFETIME = dt.timedelta(seconds=10)  # shorter ones only make sense in tests, and not those

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


@dataclass(frozen=True)
class Names:
    """What a serving certificate must be valid for."""

    dns: tuple[str, ...]
    ips: tuple[IPAddress, ...] = ()

    def __str__(self) -> str:
        return ", ".join([*self.dns, *(str(ip) for ip in self.ips)])


def service_names(service: str, namespace: str, extra: Iterable[str] = ()) -> Names:
    """``<svc>``, ``<svc>.<ns>``, ``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.cluster.local`` + extras.

    Extras are DNS names (``*.`` wildcards allowed) or IP addresses; a bad one raises
    ``ConfigError`` naming it.
    """
    problems = []
    for flag, value in (("--service", service), ("--namespace", namespace)):
        if not re.fullmatch(_DNS_LABEL, value or ""):
            problems.append(
                Problem(flag, f"must be a DNS label (lowercase a-z, 0-9, '-'), got {value!r}")
            )
    dns = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    ips: list[IPAddress] = []
    for value in extra:
        try:
            ips.append(ipaddress.ip_address(value))
            continue
        except ValueError:
            pass
        name = value.lower().rstrip(".")
        if len(name) > 253 or not _DNS_NAME.match(name):
            problems.append(
                Problem("--extra-san", f"must be a DNS name or an IP address, got {value!r}")
            )
        elif name not in dns:
            dns.append(name)
    if problems:
        raise ConfigError(problems)
    return Names(tuple(dns), tuple(dict.fromkeys(ips)))


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue_ca(
    *,
    now: dt.datetime,
    days: int = DEFAULT_CA_DAYS,
    common_name: str = "canarist webhook CA",
    lifetime: dt.timedelta | None = None,
) -> KeyPair:
    """A self-signed CA valid from ``now`` for ``lifetime`` (else ``days``)."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _base(name, name, key.public_key(), now, _until(now, days, lifetime))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return KeyPair(_pem(builder.sign(key, hashes.SHA256())), _key_pem(key))


def issue_serving(
    ca: KeyPair,
    names: Names,
    *,
    now: dt.datetime,
    days: int = DEFAULT_DAYS,
    lifetime: dt.timedelta | None = None,
) -> KeyPair:
    """A serverAuth certificate for ``names``, signed by ``ca``, valid from ``now`` for
    ``lifetime`` (else ``days``); never outlives the CA."""
    ca_cert = ca.cert
    ca_key = _load_key(ca.key_pem)
    until = min(_until(now, days, lifetime), ca_cert.not_valid_after_utc)
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names.dns[0])])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in names.dns]
    sans += [x509.IPAddress(ip) for ip in names.ips]
    builder = (
        _base(subject, ca_cert.subject, key.public_key(), now, until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return KeyPair(_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def ca_bundle(*certs_pem: bytes) -> bytes:
    """PEM bundle for ``caBundle`` (old and new CA together while a CA rotates)."""
    out: list[bytes] = []
    for pem in certs_pem:
        for cert in x509.load_pem_x509_certificates(pem):
            block = cert.public_bytes(serialization.Encoding.PEM)
            if block not in out:
                out.append(block)
    return b"".join(out)


# --- helpers -------------------------------------------------------------------------------


def _until(now: dt.datetime, days: int, lifetime: dt.timedelta | None) -> dt.datetime:
    if lifetime is not None:
        if lifetime < MIN_LIFETIME:
            raise ConfigError([Problem("lifetime", f"must be at least {MIN_LIFETIME}, got "
                                       f"{lifetime}")])
        return now + lifetime
    if days < 1:
        raise ConfigError([Problem("--days", f"must be at least 1, got {days}")])
    return now + dt.timedelta(days=days)


def backdate(lifetime: dt.timedelta) -> dt.timedelta:
    """How far ``notBefore`` is set before the moment of issue: ``CLOCK_SKEW``, or a tenth of
    a short lifetime (a one-minute certificate must not be issued five minutes old)."""
    return min(CLOCK_SKEW, lifetime / 10)


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: dt.datetime,
    until: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdate(until - now))
        .not_valid_after(until)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,  # ECDSA keys sign; they never encipher keys
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TLSConfigError(f"CA key does not load: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TLSConfigError(f"CA key must be an EC key, got {type(key).__name__}")
    return key
