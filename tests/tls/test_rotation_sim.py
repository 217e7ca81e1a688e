"""Rotation never fails an admission: a simulated timeline of webhook replicas keeping one Secret.

Each replica, at its own irregular checks, reads the published caBundle, runs ``ensure``, writes
the bundle to the webhook configuration and, a reload delay later, serves the stored pair. The
API server trusts a written bundle only after a propagation lag (its informer cache). At every
sampled moment, every replica's served certificate must be valid and issued by a CA the API
server trusts then. Short lifetimes make many serving and CA rotations happen in the window.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.tls import KeyPair, Lifetimes, MemoryStore, ensure, service_names

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
NAMES = service_names("canarist-webhook", "canarist")
LIFE = Lifetimes(ca=dt.timedelta(minutes=6), serving=dt.timedelta(seconds=90),
                 propagation=dt.timedelta(seconds=20))


@dataclass
class Replica:
    interval: float
    reload: float
    next_at: float
    serving: list[tuple[float, KeyPair]] = field(default_factory=list)  # (from, pair)

    def served(self, t: float) -> KeyPair | None:
        now = [pair for since, pair in self.serving if since <= t]
        return now[-1] if now else None


def trusted(bundle: bytes, cert: x509.Certificate, at: dt.datetime) -> bool:
    if not cert.not_valid_before_utc <= at < cert.not_valid_after_utc:
        return False
    for ca in x509.load_pem_x509_certificates(bundle) if bundle else []:
        if ca.subject != cert.issuer or not ca.not_valid_before_utc <= at < ca.not_valid_after_utc:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def simulate(seed: int, replicas: int, lag: float, minutes: int, life: Lifetimes = LIFE
             ) -> tuple[int, int, int]:
    """Returns (samples checked, serving pairs seen, CAs seen); asserts on every sample."""
    rng = random.Random(seed)
    store = MemoryStore()
    writes: list[tuple[float, bytes]] = []  # the configuration's caBundle over time
    team = [Replica(rng.uniform(3, 12), rng.uniform(0.2, 2.0), rng.uniform(0, 3))
            for _ in range(replicas)]

    def seen_by_apiserver(t: float) -> bytes:
        ready = [bundle for at, bundle in writes if at + lag <= t]
        return ready[-1] if ready else b""

    end = minutes * 60.0
    t = 0.0
    samples = 0
    pairs: set[bytes] = set()
    cas: set[bytes] = set()
    while t < end:
        r = min(team, key=lambda x: x.next_at)
        sample_to = min(r.next_at, end)
        while t < sample_to:  # sample every half second up to the next check
            bundle = seen_by_apiserver(t)
            for rep in team:
                pair = rep.served(t)
                if pair is None:
                    continue
                samples += 1
                at = T0 + dt.timedelta(seconds=t)
                assert trusted(bundle, pair.cert, at), (
                    f"t={t:.1f}s: a replica serves a pair the API server does not trust")
            t += 0.5
        if t >= end:
            break
        now = T0 + dt.timedelta(seconds=r.next_at)
        published = writes[-1][1] if writes else b""
        certs, _ = ensure(store, NAMES, now, life, published=published)
        if certs.bundle != published:
            writes.append((r.next_at, certs.bundle))
        if not r.serving or r.serving[-1][1] != certs.serving:
            # a replica serves only once its first ensure is done (and published)
            start = r.next_at + (r.reload if r.serving else lag)
            r.serving.append((start, certs.serving))
        pairs.add(certs.serving.cert_pem)
        cas.add(certs.ca.cert_pem)
        r.next_at += r.interval * rng.uniform(0.7, 1.3)
    return samples, len(pairs), len(cas)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), replicas=st.integers(1, 3),
       lag=st.floats(0.0, 15.0, allow_nan=False))
def test_no_replica_ever_serves_an_untrusted_pair(seed: int, replicas: int, lag: float) -> None:
    samples, pairs, cas = simulate(seed, replicas, lag, minutes=14)
    assert samples > 1000
    assert pairs >= 8 and cas >= 3  # serving pairs and CAs did rotate, several times


def test_without_waiting_for_propagation_the_same_timeline_fails() -> None:
    """The check can fail: a new CA that signs as soon as it is seen published (no propagation
    time) is caught while the API server still trusts only the old bundle."""
    hasty = Lifetimes(ca=LIFE.ca, serving=LIFE.serving, propagation=dt.timedelta(0))
    failed = 0
    for seed in range(6):
        try:
            simulate(seed, 2, 12.0, minutes=14, life=hasty)
        except AssertionError:
            failed += 1
    assert failed > 0
