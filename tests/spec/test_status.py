"""canarist.io/status round-trips and tolerates what it does not know."""

from __future__ import annotations

import json

from webhook.spec import Phase, ReleaseStatus


def test_round_trip_with_camel_case_keys() -> None:
    status = ReleaseStatus(
        phase=Phase.PAUSED,
        message="waiting",
        step=2,
        steps=5,
        weight=20,
        stable_hash="aaaaaaaaaa",
        canary_hash="bbbbbbbbbb",
        header_routes=("beta",),
        mirror="m",
        started_at="2026-01-01T00:00:00Z",
        step_started_at="2026-01-01T00:01:00Z",
        analysis={"phase": "Running"},
    )
    raw = json.loads(status.to_json())
    assert raw["stableHash"] == "aaaaaaaaaa"
    assert raw["headerRoutes"] == ["beta"]
    assert raw["phase"] == "Paused"
    assert ReleaseStatus.from_json(status.to_json()) == status


def test_unknown_keys_are_kept() -> None:
    status = ReleaseStatus.from_json('{"phase": "Healthy", "futureField": {"x": 1}}')
    assert status.phase is Phase.HEALTHY
    assert json.loads(status.to_json())["futureField"] == {"x": 1}


def test_garbage_reads_as_empty() -> None:
    for text in (None, "", "not json", "[]", '{"phase": "Exploded", "step": "two"}'):
        status = ReleaseStatus.from_json(text)
        assert status.phase is None
        assert status.step == 0


def test_in_release_means_a_canary_that_differs_from_stable() -> None:
    assert not ReleaseStatus().in_release
    assert not ReleaseStatus(stable_hash="a", canary_hash="a").in_release
    assert ReleaseStatus(stable_hash="a", canary_hash="b").in_release
