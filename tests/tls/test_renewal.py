"""Renewal decisions (a table over time) and ensure() against a compare-and-swap store."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography import x509

from webhook.errors import Conflict, TLSConfigError
from webhook.tls import (
    Action,
    Lifetimes,
    MemoryStore,
    Stored,
    carry_out,
    ensure,
    issue_ca,
    issue_serving,
    next_check,
    plan,
    service_names,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LIFE = Lifetimes(ca_days=900, serving_days=90, renew_fraction=2 / 3)
NAMES = service_names("canarist-webhook", "canarist")


def _stored(now: dt.datetime = T0) -> Stored:
    stored, _ = ensure(MemoryStore(), NAMES, now, LIFE)
    return stored


STORED = _stored()
OTHER_CA = issue_ca(now=T0)


def _days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("label", "stored", "names", "now", "action", "reason"),
    [
        ("nothing stored", None, NAMES, T0, Action.ISSUE_ALL, "no certificates stored"),
        ("fresh", STORED, NAMES, _days(1), Action.KEEP, "valid until"),
        ("before 2/3 of 90 days", STORED, NAMES, _days(59.9), Action.KEEP, "valid until"),
        ("at 2/3 of 90 days", STORED, NAMES, _days(60.1), Action.ISSUE_SERVING, "renewal due"),
        ("expired", STORED, NAMES, _days(91), Action.ISSUE_SERVING, "renewal due"),
        ("CA at 2/3 of 900 days", STORED, NAMES, _days(600.1), Action.ISSUE_ALL, "CA expires"),
        (
            "a SAN is missing",
            STORED,
            service_names("canarist-webhook", "canarist", ["hook.example.com"]),
            _days(1),
            Action.ISSUE_SERVING,
            "lacks hook.example.com",
        ),
        (
            "signed by another CA",
            replace(STORED, serving=issue_serving(OTHER_CA, NAMES, now=T0)),
            NAMES,
            _days(1),
            Action.ISSUE_SERVING,
            "not signed by the stored CA",
        ),
        (
            "serving key swapped",
            replace(STORED, serving=replace(STORED.serving, key_pem=OTHER_CA.key_pem)),
            NAMES,
            _days(1),
            Action.ISSUE_SERVING,
            "key does not match",
        ),
        (
            "CA key swapped",
            replace(STORED, ca=replace(STORED.ca, key_pem=OTHER_CA.key_pem)),
            NAMES,
            _days(1),
            Action.ISSUE_ALL,
            "CA key does not match",
        ),
        (
            "garbage",
            replace(STORED, serving=replace(STORED.serving, cert_pem=b"junk")),
            NAMES,
            _days(1),
            Action.ISSUE_ALL,
            "do not load",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_plan(
    label: str,
    stored: Stored | None,
    names: object,
    now: dt.datetime,
    action: Action,
    reason: str,
) -> None:
    decided = plan(stored, names, now, LIFE)  # type: ignore[arg-type]
    assert decided.action is action
    assert reason in decided.reason


def test_ensure_issues_once_then_keeps() -> None:
    store = MemoryStore()
    first, p1 = ensure(store, NAMES, T0, LIFE)
    second, p2 = ensure(store, NAMES, _days(10), LIFE)
    assert (p1.action, p2.action, store.saves) == (Action.ISSUE_ALL, Action.KEEP, 1)
    assert second is first


def test_serving_rotation_keeps_the_ca_and_bundle() -> None:
    store = MemoryStore(STORED)
    rotated, step = ensure(store, NAMES, _days(61), LIFE)
    assert step.action is Action.ISSUE_SERVING
    assert rotated.ca == STORED.ca and rotated.bundle == STORED.bundle
    assert rotated.serving.cert.serial_number != STORED.serving.cert.serial_number
    assert plan(rotated, NAMES, _days(61), LIFE).action is Action.KEEP


def test_ca_rotation_bundles_old_and_new_ca() -> None:
    store = MemoryStore(STORED)
    rotated, step = ensure(store, NAMES, _days(601), LIFE)
    assert step.action is Action.ISSUE_ALL
    bundle = x509.load_pem_x509_certificates(rotated.bundle)
    assert [c.serial_number for c in bundle] == [
        rotated.ca.cert.serial_number,
        STORED.ca.cert.serial_number,  # still valid: API servers may still trust only it
    ]
    rotated.serving.cert.verify_directly_issued_by(rotated.ca.cert)


def test_expired_ca_leaves_the_bundle() -> None:
    rotated = carry_out(plan(STORED, NAMES, _days(1000), LIFE), STORED, NAMES, _days(1000), LIFE)
    assert len(x509.load_pem_x509_certificates(rotated.bundle)) == 1


def test_next_check_is_the_earliest_renewal() -> None:
    assert next_check(STORED, LIFE) == STORED.serving.cert.not_valid_before_utc + (
        STORED.serving.cert.not_valid_after_utc - STORED.serving.cert.not_valid_before_utc
    ) * (2 / 3)


class RacingStore(MemoryStore):
    """Another replica saves just before us, ``races`` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        if self.races:
            self.races -= 1
            super().save(_stored(T0), replaces=self.value)
        super().save(certs, replaces=replaces)


def test_ensure_adopts_what_a_racing_replica_saved() -> None:
    store = RacingStore(races=1)
    winner, step = ensure(store, NAMES, T0, LIFE)
    assert step.action is Action.KEEP  # reloaded after the conflict: the other's certs are good
    assert winner is store.value and store.saves == 1


def test_ensure_gives_up_after_repeated_conflicts() -> None:
    class AlwaysConflict(MemoryStore):
        def save(self, certs: Stored, *, replaces: Stored | None) -> None:
            raise Conflict("someone else", status=409)

    with pytest.raises(TLSConfigError, match="3 times"):
        ensure(AlwaysConflict(), NAMES, T0, LIFE, attempts=3)
