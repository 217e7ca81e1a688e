"""Renewal decisions (a table over time) and ensure() against a compare-and-swap store."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography import x509

from webhook.errors import ConfigError, Conflict, TLSConfigError
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
LIFE = Lifetimes.of_days(900, 90, renew_fraction=2 / 3)
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
        ("CA at 2/3 of 900 days", STORED, NAMES, _days(600.1), Action.STAGE_CA,
         "a new CA joins the bundle before it signs"),
        ("CA expired", STORED, NAMES, _days(901), Action.ISSUE_ALL, "the CA expired"),
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


def _prints(bundle: bytes) -> list[int]:
    return [c.serial_number for c in x509.load_pem_x509_certificates(bundle)]


def test_ca_rotation_stages_publishes_waits_then_promotes() -> None:
    base = replace(STORED, serving=issue_serving(STORED.ca, NAMES, now=_days(600), days=90))
    store = MemoryStore(base)
    staged, step = ensure(store, NAMES, _days(601), LIFE, published=STORED.bundle)
    assert step.action is Action.STAGE_CA and staged.next_ca is not None
    assert staged.ca == STORED.ca and staged.serving == base.serving  # nothing signed by it
    assert _prints(staged.bundle) == [STORED.ca.cert.serial_number,
                                      staged.next_ca.cert.serial_number]
    # Not yet in the webhook configuration: it waits, however long.
    for day in (601, 650):
        assert plan(staged, NAMES, _days(day), LIFE, STORED.bundle).action is Action.WAIT
    # Seen published: the moment is marked; it signs only after the propagation time.
    marked, step = ensure(store, NAMES, _days(602), LIFE, published=staged.bundle)
    assert step.action is Action.MARK_PUBLISHED and marked.next_published_at == _days(602)
    assert marked.serving == base.serving
    soon = _days(602) + LIFE.propagation / 2
    waiting = plan(marked, NAMES, soon, LIFE, staged.bundle)
    assert waiting.action is Action.WAIT and "the new CA signs from" in waiting.reason
    later = _days(602) + LIFE.propagation
    promoted, step = ensure(store, NAMES, later, LIFE, published=staged.bundle)
    assert step.action is Action.PROMOTE_CA
    assert promoted.ca == staged.next_ca and promoted.next_ca is None
    promoted.serving.cert.verify_directly_issued_by(promoted.ca.cert)
    # The old CA stays trusted until it expires, then leaves the bundle.
    assert _prints(promoted.bundle) == [promoted.ca.cert.serial_number,
                                        STORED.ca.cert.serial_number]
    assert plan(promoted, NAMES, _days(640), LIFE, promoted.bundle).action is Action.KEEP
    store.value = replace(promoted, serving=issue_serving(promoted.ca, NAMES, now=_days(890)))
    pruned, step = ensure(store, NAMES, _days(901), LIFE, published=promoted.bundle)
    assert step.action is Action.REBUNDLE
    assert _prints(pruned.bundle) == [promoted.ca.cert.serial_number]


def test_serving_renewal_is_not_held_by_a_staged_ca() -> None:
    store = MemoryStore(replace(STORED, serving=issue_serving(STORED.ca, NAMES, now=_days(600),
                                                              days=90)))
    staged, _ = ensure(store, NAMES, _days(601), LIFE, published=STORED.bundle)
    # Days later the serving pair is due while the new CA is still unpublished.
    renewed, step = ensure(store, NAMES, _days(601 + 61), LIFE, published=STORED.bundle)
    assert step.action is Action.ISSUE_SERVING and renewed.next_ca == staged.next_ca
    renewed.serving.cert.verify_directly_issued_by(STORED.ca.cert)


def test_an_expired_ca_leaves_the_bundle_and_everything_is_reissued() -> None:
    rotated = carry_out(plan(STORED, NAMES, _days(1000), LIFE), STORED, NAMES, _days(1000), LIFE)
    assert len(x509.load_pem_x509_certificates(rotated.bundle)) == 1


def test_the_bundle_regains_a_lost_ca() -> None:
    broken = replace(STORED, bundle=b"")
    step = plan(broken, NAMES, _days(1), LIFE)
    assert step.action is Action.REBUNDLE
    assert _prints(carry_out(step, broken, NAMES, _days(1), LIFE).bundle) == [
        STORED.ca.cert.serial_number]


def test_lifetimes_are_checked() -> None:
    with pytest.raises(ConfigError, match="serving lifetime: must be at least"):
        Lifetimes(serving=dt.timedelta(seconds=1))
    with pytest.raises(ConfigError, match="CA propagation"):
        Lifetimes(ca=dt.timedelta(minutes=3), propagation=dt.timedelta(minutes=1))
    assert Lifetimes(ca=dt.timedelta(minutes=3), serving=dt.timedelta(seconds=40),
                     propagation=dt.timedelta(seconds=5)).ca == dt.timedelta(minutes=3)


def test_short_lifetimes_backdate_a_tenth() -> None:
    pair = ensure(MemoryStore(), NAMES, T0, Lifetimes(ca=dt.timedelta(minutes=10),
                                                      serving=dt.timedelta(seconds=60),
                                                      propagation=dt.timedelta(seconds=5)))[0]
    cert = pair.serving.cert
    assert cert.not_valid_before_utc == T0 - dt.timedelta(seconds=6)
    assert cert.not_valid_after_utc == T0 + dt.timedelta(seconds=60)


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
