"""When to (re)issue the webhook's certificates, and the storage interface they live behind.

In a cluster every webhook replica serves with the same certificates, kept in one Secret (CA and
serving pair) whose CA goes into the MutatingWebhookConfiguration's ``caBundle``. Each replica
runs ``ensure`` at start and then at ``next_check``: it loads what is stored, decides with the
pure ``plan`` whether anything must be issued, and saves with compare-and-swap semantics, so
replicas racing to rotate converge on one winner. ``webhook.kube`` implements ``CertStore`` on a
Secret; tests and the embedded cluster use ``MemoryStore``.

Rotation happens well before expiry: at ``renew_fraction`` (2/3) of a certificate's lifetime, so
a 90-day serving certificate is replaced after 60 days. While a CA rotates, the bundle carries
the old CA as well as the new one, until the old one expires.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from webhook.errors import Conflict, TLSConfigError
from webhook.tls.issue import KeyPair, Names, ca_bundle, issue_ca, issue_serving


@dataclass(frozen=True)
class Stored:
    """The certificates of one webhook installation."""

    ca: KeyPair
    serving: KeyPair
    bundle: bytes  # PEM: the CA, and the previous CA while it is still valid


class CertStore(Protocol):
    def load(self) -> Stored | None:
        """What is stored, or None if nothing is."""

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        """Store ``certs`` if what is stored is still ``replaces``; raise ``Conflict`` if not."""


@dataclass(frozen=True)
class Lifetimes:
    ca_days: int = 3650
    serving_days: int = 90
    renew_fraction: float = 2 / 3


class Action(StrEnum):
    KEEP = "keep"
    ISSUE_SERVING = "issue-serving"  # new serving pair, same CA
    ISSUE_ALL = "issue-all"  # new CA and serving pair


@dataclass(frozen=True)
class Plan:
    action: Action
    reason: str


def renew_at(cert: x509.Certificate, fraction: float) -> dt.datetime:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * fraction


def plan(stored: Stored | None, names: Names, now: dt.datetime, life: Lifetimes) -> Plan:
    """What to issue for ``stored`` to serve ``names`` at ``now``; a pure decision."""
    if stored is None:
        return Plan(Action.ISSUE_ALL, "no certificates stored")
    try:
        ca, cert = stored.ca.cert, stored.serving.cert
        ca_key = serialization.load_pem_private_key(stored.ca.key_pem, password=None)
        key = serialization.load_pem_private_key(stored.serving.key_pem, password=None)
    except ValueError as exc:
        return Plan(Action.ISSUE_ALL, f"stored certificates do not load: {exc}")
    if ca_key.public_key() != ca.public_key():
        return Plan(Action.ISSUE_ALL, "the CA key does not match the CA certificate")
    due = renew_at(ca, life.renew_fraction)
    if now >= due:
        return Plan(Action.ISSUE_ALL, f"CA expires {_when(ca.not_valid_after_utc)}, renewal due")
    if not _signed_by(cert, ca):
        return Plan(Action.ISSUE_SERVING, "serving certificate is not signed by the stored CA")
    if key.public_key() != cert.public_key():
        return Plan(Action.ISSUE_SERVING, "serving key does not match its certificate")
    missing = _missing_names(cert, names)
    if missing:
        return Plan(Action.ISSUE_SERVING, f"serving certificate lacks {', '.join(missing)}")
    if now >= renew_at(cert, life.renew_fraction):
        return Plan(
            Action.ISSUE_SERVING,
            f"serving certificate expires {_when(cert.not_valid_after_utc)}, renewal due",
        )
    return Plan(Action.KEEP, f"valid until {_when(cert.not_valid_after_utc)}")


def carry_out(
    step: Plan, stored: Stored | None, names: Names, now: dt.datetime, life: Lifetimes
) -> Stored:
    """Issue what ``step`` asks for; the previous CA stays in the bundle until it expires."""
    if step.action is Action.KEEP:
        if stored is None:
            raise TLSConfigError("nothing stored to keep")
        return stored
    if step.action is Action.ISSUE_SERVING and stored is not None:
        ca, bundle = stored.ca, stored.bundle
    else:
        ca = issue_ca(now=now, days=life.ca_days)
        previous = [stored.ca.cert_pem] if stored and _valid_pem(stored.ca, now) else []
        bundle = ca_bundle(ca.cert_pem, *previous)
    serving = issue_serving(ca, names, now=now, days=life.serving_days)
    return Stored(ca=ca, serving=serving, bundle=bundle)


def ensure(
    store: CertStore, names: Names, now: dt.datetime, life: Lifetimes, attempts: int = 5
) -> tuple[Stored, Plan]:
    """Load, decide, issue and save; retried when another replica saved first."""
    for _ in range(attempts):
        stored = store.load()
        step = plan(stored, names, now, life)
        if step.action is Action.KEEP and stored is not None:
            return stored, step
        fresh = carry_out(step, stored, names, now, life)
        try:
            store.save(fresh, replaces=stored)
        except Conflict:
            continue
        return fresh, step
    raise TLSConfigError(f"certificates changed under us {attempts} times in a row; giving up")


def next_check(stored: Stored, life: Lifetimes) -> dt.datetime:
    """When ``plan`` will next decide to issue something (absent other changes)."""
    return min(
        renew_at(stored.ca.cert, life.renew_fraction),
        renew_at(stored.serving.cert, life.renew_fraction),
    )


class MemoryStore:
    """A ``CertStore`` in memory, with the same compare-and-swap contract as a Secret."""

    def __init__(self, initial: Stored | None = None) -> None:
        self.value = initial
        self.saves = 0

    def load(self) -> Stored | None:
        return self.value

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        if self.value != replaces:
            raise Conflict("certificates were saved by someone else", status=409)
        self.value = certs
        self.saves += 1


# --- helpers -------------------------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _missing_names(cert: x509.Certificate, names: Names) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [*names.dns, *(str(ip) for ip in names.ips)]
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = set(san.get_values_for_type(x509.IPAddress))
    return [d for d in names.dns if d not in dns] + [str(ip) for ip in names.ips if ip not in ips]


def _valid_pem(pair: KeyPair, now: dt.datetime) -> bool:
    try:
        return pair.cert.not_valid_after_utc > now
    except ValueError:
        return False
