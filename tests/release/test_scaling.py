"""Replica and weight arithmetic, case by case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.release import scaling


@pytest.mark.parametrize(
    ("replicas", "weight", "pods"),
    [
        (10, 0, 0),
        (10, 1, 1),
        (10, 10, 1),
        (10, 11, 2),
        (10, 50, 5),
        (10, 100, 10),
        (4, 20, 1),
        (4, 30, 2),
        (3, 50, 2),
        (0, 50, 0),
    ],
)
def test_traffic_routed_canary_is_ceil_of_the_weight(replicas: int, weight: int, pods: int) -> None:
    assert scaling.canary_for_weight(replicas, weight) == pods


@pytest.mark.parametrize(
    ("replicas", "weight", "pods", "share"),
    [
        (4, 20, 1, 20),  # 1/5
        (4, 50, 4, 50),  # 4/8
        (4, 80, 16, 80),  # 16/20
        (4, 10, 1, 20),  # the smallest canary is one pod
        (10, 10, 1, 9),  # 1/11 beats 2/12
        (10, 25, 3, 23),  # 3/13 (23%) beats 4/14 (29%)
        (9, 10, 1, 10),  # 1/10 exactly
        (3, 40, 2, 40),  # 2/5
        (0, 30, 1, 100),  # no stable pods: one canary pod
        (5, 0, 0, 0),
    ],
)
def test_none_router_picks_the_closest_share(
    replicas: int, weight: int, pods: int, share: int
) -> None:
    assert scaling.canary_for_share(replicas, weight) == pods
    assert scaling.share(replicas, pods) == share


@given(st.integers(1, 200), st.integers(1, 99))
def test_none_router_share_is_the_closest_reachable(replicas: int, weight: int) -> None:
    pods = scaling.canary_for_share(replicas, weight)
    assert pods >= 1

    def error(c: int) -> float:
        return abs(c / (replicas + c) - weight / 100)

    for other in (pods - 1, pods + 1):
        if other >= 1:
            assert error(pods) <= error(other) + 1e-12


def test_none_router_refuses_a_share_of_100() -> None:
    with pytest.raises(ValueError, match="promote"):
        scaling.canary_for_share(4, 100)


@pytest.mark.parametrize(
    ("available", "replicas", "floor"),
    [(10, 10, 0), (5, 10, 50), (0, 10, 100), (12, 10, 0), (1, 3, 67), (0, 0, 0)],
)
def test_stable_floor(available: int, replicas: int, floor: int) -> None:
    assert scaling.stable_floor(available, replicas) == floor


@pytest.mark.parametrize(
    ("desired", "applied", "stable"),
    [
        (20, 0, 10),  # traffic has not moved yet: all stable pods stay
        (20, 20, 8),
        (50, 20, 8),  # the next weight is not applied yet: stable keeps 8
        (50, 50, 5),
        (0, 50, 10),  # abort: stable comes back at once
        (100, 100, 0),
    ],
)
def test_dynamic_stable_scale_moves_pods_after_traffic(
    desired: int, applied: int, stable: int
) -> None:
    assert scaling.stable_for_weights(10, desired, applied) == stable


@pytest.mark.parametrize(
    ("target", "applied", "ready", "available", "floor", "weight"),
    [
        (20, 0, False, 0, 0, 0),  # scale first
        (20, 0, False, 1, 0, 0),  # pods coming: hold the applied weight
        (20, 0, True, 2, 0, 20),  # ready: shift
        (50, 20, False, 2, 0, 20),  # next step scaling: hold 20
        (20, 50, False, 5, 0, 20),  # going down never waits for scaling
        (0, 50, True, 5, 0, 0),  # abort: at once
        (0, 50, True, 5, 30, 30),  # ...no faster than stable can absorb
        (0, 50, True, 0, 30, 0),  # a canary without pods gets nothing, whatever stable has
        (100, 50, True, 10, 0, 100),
        (100, 100, False, 0, 0, 0),  # pods gone: weight gone
    ],
)
def test_next_weight(
    target: int, applied: int, ready: bool, available: int, floor: int, weight: int
) -> None:
    got = scaling.next_weight(
        target=target, applied=applied, ready=ready, canary_available=available, floor=floor
    )
    assert got == weight


@given(
    st.integers(0, 100), st.integers(0, 100), st.booleans(), st.integers(0, 50), st.integers(0, 100)
)
def test_next_weight_invariants(
    target: int, applied: int, ready: bool, available: int, floor: int
) -> None:
    w = scaling.next_weight(
        target=target, applied=applied, ready=ready, canary_available=available, floor=floor
    )
    assert 0 <= w <= 100
    if available == 0:
        assert w == 0
    if w > applied:
        assert ready and w == target
