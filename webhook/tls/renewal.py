"""When to (re)issue the webhook's certificates, and the storage interface they live behind.

In a cluster every webhook replica serves with the same certificates, kept in one Secret (CA and
serving pair) whose bundle of CAs goes into the MutatingWebhookConfiguration's ``caBundle``.
Each replica runs ``ensure`` at start and then periodically: it loads what is stored, decides
with the pure ``plan`` whether anything must change, and saves with compare-and-swap semantics,
so replicas racing to rotate converge on one winner. ``webhook.kube`` implements ``CertStore``
on a Secret; tests use ``MemoryStore``.

Rotation never fails an admission (the API server only trusts what the ``caBundle`` it has
loaded says, and a replica may still serve the previous pair for a few seconds):

- a serving pair is renewed at ``renew_fraction`` (2/3) of its lifetime, by the same CA: the
  previous pair stays valid for the remaining third, whichever replica still serves it;
- a CA is renewed in three steps. At 2/3 of its lifetime a new CA is **staged**: it joins the
  bundle but signs nothing. Once a replica has seen the bundle with it published in the webhook
  configuration, the moment is **marked**; ``propagation`` later (every API server has loaded
  the new bundle by then) it is **promoted**: it signs a new serving pair. The old CA stays in
  the bundle until it expires, so pairs it signed are trusted as long as they are valid;
- expired CAs leave the bundle.

Only when nothing usable is stored (first start, a CA expired or broken) is everything issued at
once, because there is nothing to keep working.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

from webhook.errors import ConfigError, Conflict, Problem, TLSConfigError
from webhook.tls.issue import MIN_LIFETIME, KeyPair, Names, ca_bundle, issue_ca, issue_serving

DAY = dt.timedelta(days=1)
MAX_STEPS = 6  # writes one ensure makes at most (issue, stage, mark, promote, rebundle...)


@dataclass(frozen=True)
class Stored:
    """The certificates of one webhook installation."""

    ca: KeyPair  # the CA that signs serving pairs
    serving: KeyPair
    bundle: bytes  # PEM: every CA the API server must trust (active, staged, still-valid old)
    next_ca: KeyPair | None = None  # staged: in the bundle, signs nothing yet
    next_published_at: dt.datetime | None = None  # first seen in the published caBundle


class CertStore(Protocol):
    def load(self) -> Stored | None:
        """What is stored, or None if nothing is."""

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        """Store ``certs`` if what is stored is still ``replaces``; raise ``Conflict`` if not."""


@dataclass(frozen=True)
class Lifetimes:
    ca: dt.timedelta = 3650 * DAY
    serving: dt.timedelta = 90 * DAY
    renew_fraction: float = 2 / 3
    # How long a new CA must have been in the published caBundle before it signs anything:
    # every API server (each caches webhook configurations) has loaded it by then.
    propagation: dt.timedelta = dt.timedelta(seconds=60)

    def __post_init__(self) -> None:
        problems = [
            Problem(name, f"must be at least {MIN_LIFETIME}, got {value}")
            for name, value in (("CA lifetime", self.ca), ("serving lifetime", self.serving))
            if value < MIN_LIFETIME
        ]
        if not 0.1 <= self.renew_fraction <= 0.9:
            problems.append(Problem("renew fraction", f"must be 0.1-0.9, got "
                                    f"{self.renew_fraction}"))
        elif self.propagation < dt.timedelta(0) or (
            self.propagation * 2 > self.ca * (1 - self.renew_fraction)
        ):
            problems.append(Problem(
                "CA propagation",
                f"must be between 0 and half of the CA's last {1 - self.renew_fraction:.0%} "
                f"(the old CA must outlive the rotation), got {self.propagation}"))
        if problems:
            raise ConfigError(problems)

    @classmethod
    def of_days(cls, ca_days: float, serving_days: float, renew_fraction: float = 2 / 3
                ) -> Lifetimes:
        return cls(ca=ca_days * DAY, serving=serving_days * DAY, renew_fraction=renew_fraction)


class Action(StrEnum):
    KEEP = "keep"
    WAIT = "wait"  # a staged CA waits to be published, or for the propagation time
    ISSUE_ALL = "issue-all"  # new CA and serving pair: nothing usable is stored
    ISSUE_SERVING = "issue-serving"  # new serving pair, same CA
    STAGE_CA = "stage-ca"  # a new CA joins the bundle, signs nothing yet
    MARK_PUBLISHED = "mark-published"  # the staged CA was seen in the published caBundle
    PROMOTE_CA = "promote-ca"  # the staged CA signs a new serving pair
    REBUNDLE = "rebundle"  # the bundle lacks a CA, or holds an expired one


WRITES = frozenset(Action) - {Action.KEEP, Action.WAIT}


@dataclass(frozen=True)
class Plan:
    action: Action
    reason: str


def renew_at(cert: x509.Certificate, fraction: float) -> dt.datetime:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * fraction


def plan(
    stored: Stored | None,
    names: Names,
    now: dt.datetime,
    life: Lifetimes,
    published: bytes | None = None,
) -> Plan:
    """What to do with ``stored`` to serve ``names`` at ``now``; a pure decision.

    ``published``: the ``caBundle`` the webhook configuration carries now (None when nobody
    publishes it there: the stored bundle then counts as published)."""
    if stored is None:
        return Plan(Action.ISSUE_ALL, "no certificates stored")
    loaded = _load(stored)
    if isinstance(loaded, str):
        return Plan(Action.ISSUE_ALL, loaded)
    ca, cert = loaded
    if now >= ca.not_valid_after_utc:
        return Plan(Action.ISSUE_ALL, f"the CA expired {_when(ca.not_valid_after_utc)}")
    waiting: Plan | None = None
    if now >= renew_at(ca, life.renew_fraction):
        step = _ca_step(stored, ca, now, life, stored.bundle if published is None else published)
        if step.action is not Action.WAIT:
            return step
        waiting = step
    serving = _serving_step(stored, ca, cert, names, now, life)
    if serving is not None:
        return serving
    if stored.bundle != bundle_for(stored, now):
        return Plan(Action.REBUNDLE, "the bundle lacks a CA or holds an expired one")
    return waiting or Plan(Action.KEEP, f"valid until {_when(cert.not_valid_after_utc)}")


def _ca_step(
    stored: Stored, ca: x509.Certificate, now: dt.datetime, life: Lifetimes, published: bytes
) -> Plan:
    staged = _usable_ca(stored.next_ca, now)
    due = f"CA expires {_when(ca.not_valid_after_utc)}, renewal due"
    if staged is None:
        return Plan(Action.STAGE_CA, f"{due}: a new CA joins the bundle before it signs")
    if not _contains(published, staged):
        return Plan(Action.WAIT, f"{due}: the new CA waits to be published in the caBundle")
    if stored.next_published_at is None:
        return Plan(Action.MARK_PUBLISHED, f"{due}: the new CA is in the published caBundle")
    ready = stored.next_published_at + life.propagation
    if now < ready:
        return Plan(Action.WAIT, f"{due}: the new CA signs from {_when(ready)}")
    return Plan(Action.PROMOTE_CA,
                f"{due}: the new CA, published since {_when(stored.next_published_at)}, signs")


def _serving_step(
    stored: Stored,
    ca: x509.Certificate,
    cert: x509.Certificate,
    names: Names,
    now: dt.datetime,
    life: Lifetimes,
) -> Plan | None:
    if not _signed_by(cert, ca):
        return Plan(Action.ISSUE_SERVING, "serving certificate is not signed by the stored CA")
    key = serialization.load_pem_private_key(stored.serving.key_pem, password=None)
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
    return None


def carry_out(
    step: Plan, stored: Stored | None, names: Names, now: dt.datetime, life: Lifetimes
) -> Stored:
    """What ``step`` makes of ``stored``; the bundle then holds the active CA, the staged one
    and every other CA still valid."""
    if step.action not in WRITES:
        if stored is None:
            raise TLSConfigError(f"nothing stored to {step.action.value}")
        return stored
    if step.action is Action.ISSUE_ALL or stored is None:
        ca = _new_ca(now, life)
        fresh = Stored(ca, issue_serving(ca, names, now=now, lifetime=life.serving), b"")
        previous = [stored.ca.cert_pem, stored.bundle] if stored is not None else []
        return replace(fresh, bundle=bundle_for(fresh, now, previous))
    if step.action is Action.STAGE_CA:
        fresh = replace(stored, next_ca=_new_ca(now, life), next_published_at=None)
    elif step.action is Action.MARK_PUBLISHED:
        fresh = replace(stored, next_published_at=now)
    elif step.action is Action.PROMOTE_CA:
        if stored.next_ca is None:
            raise TLSConfigError("no staged CA to promote")
        fresh = replace(stored, ca=stored.next_ca,
                        serving=issue_serving(stored.next_ca, names, now=now,
                                              lifetime=life.serving),
                        next_ca=None, next_published_at=None)
    elif step.action is Action.ISSUE_SERVING:
        fresh = replace(stored, serving=issue_serving(stored.ca, names, now=now,
                                                      lifetime=life.serving))
    else:  # REBUNDLE
        fresh = stored
    return replace(fresh, bundle=bundle_for(fresh, now, [stored.ca.cert_pem]))


def bundle_for(stored: Stored, now: dt.datetime, previous: list[bytes] | None = None) -> bytes:
    """The active CA, the staged CA, then every CA of the stored bundle (and ``previous``)
    still valid at ``now``, each once."""
    pems = [stored.ca.cert_pem]
    if stored.next_ca is not None:
        pems.append(stored.next_ca.cert_pem)
    for pem in [stored.bundle, *(previous or [])]:
        pems += [c.public_bytes(serialization.Encoding.PEM) for c in _certs(pem)
                 if c.not_valid_after_utc > now]
    return ca_bundle(*(p for p in pems if _certs(p)))


def ensure(
    store: CertStore,
    names: Names,
    now: dt.datetime,
    life: Lifetimes,
    attempts: int = 5,
    published: bytes | None = None,
) -> tuple[Stored, Plan]:
    """Load, decide, carry out and save until nothing is left to do now (a staged CA may have
    to wait); retried when another replica saved first. Returns what is stored and the first
    step written (its reason followed by those of the next steps), else the final decision."""
    done: list[Plan] = []
    conflicts = 0
    while True:
        stored = store.load()
        step = plan(stored, names, now, life, published)
        if step.action not in WRITES or len(done) >= MAX_STEPS:
            if stored is None:
                raise TLSConfigError("nothing stored after issuing")
            if not done:
                return stored, step
            return stored, Plan(done[0].action, "; then ".join(p.reason for p in done))
        fresh = carry_out(step, stored, names, now, life)
        try:
            store.save(fresh, replaces=stored)
        except Conflict:
            conflicts += 1
            if conflicts >= attempts:
                raise TLSConfigError(
                    f"certificates changed under us {attempts} times in a row; giving up"
                ) from None
            continue
        done.append(step)


def next_check(stored: Stored, life: Lifetimes) -> dt.datetime:
    """When ``plan`` will next decide to change something (absent other changes)."""
    moments = [renew_at(stored.ca.cert, life.renew_fraction),
               renew_at(stored.serving.cert, life.renew_fraction)]
    if stored.next_published_at is not None:
        moments.append(stored.next_published_at + life.propagation)
    moments += [c.not_valid_after_utc for c in _certs(stored.bundle)]
    return min(moments)


def fingerprints(pem: bytes) -> list[str]:
    """SHA-256 fingerprints (hex) of the certificates in a PEM bundle, in order."""
    return [c.fingerprint(hashes.SHA256()).hex() for c in _certs(pem)]


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


def _new_ca(now: dt.datetime, life: Lifetimes) -> KeyPair:
    # A name of its own: two CAs share the bundle while one rotates.
    return issue_ca(now=now, lifetime=life.ca,
                    common_name=f"canarist webhook CA {secrets.token_hex(4)}")


def _load(stored: Stored) -> tuple[x509.Certificate, x509.Certificate] | str:
    try:
        ca, cert = stored.ca.cert, stored.serving.cert
        ca_key = serialization.load_pem_private_key(stored.ca.key_pem, password=None)
        serialization.load_pem_private_key(stored.serving.key_pem, password=None)
    except (ValueError, TypeError) as exc:
        return f"stored certificates do not load: {exc}"
    if ca_key.public_key() != ca.public_key():
        return "the CA key does not match the CA certificate"
    return ca, cert


def _usable_ca(pair: KeyPair | None, now: dt.datetime) -> x509.Certificate | None:
    if pair is None:
        return None
    try:
        cert = pair.cert
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
    except (ValueError, TypeError):
        return None
    if key.public_key() != cert.public_key() or cert.not_valid_after_utc <= now:
        return None
    return cert


def _certs(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def _contains(bundle: bytes, cert: x509.Certificate) -> bool:
    return any(c == cert for c in _certs(bundle))


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
