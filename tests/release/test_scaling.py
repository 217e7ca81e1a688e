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
    ("replicas", "weight", "surge", "split"),
    [
        # the R = 5 at 20/40/60/80% (Argo's basic canary): 1/4, 2/3, 3/2, 4/1
        (5, 20, 2, (1, 4)),
        (5, 40, 2, (2, 3)),
        (5, 60, 2, (3, 2)),
        (5, 80, 2, (4, 1)),
        # Argo's documented examples: 10 replicas at 10% and at 41%
        (10, 10, 3, (1, 9)),
        (10, 41, 3, (4, 6)),
        # a split exactly halfway: one more pod when the Deployment may surge, else rounded up
        (3, 50, 1, (2, 2)),
        (3, 50, 0, (2, 1)),
        # never 0 on either side for 1-99% unless one pod and no surge
        (1, 5, 1, (1, 1)),
        (1, 95, 1, (1, 1)),
        (1, 5, 0, (0, 1)),
        (1, 95, 0, (1, 0)),
        (4, 0, 1, (0, 4)),
        (4, 100, 1, (4, 0)),
        (0, 50, 1, (0, 0)),
    ],
)
def test_basic_canary_split_is_argos(
    replicas: int, weight: int, surge: int, split: tuple[int, int]
) -> None:
    assert scaling.approximate(replicas, weight, surge) == split


@given(st.integers(1, 200), st.integers(1, 99), st.integers(0, 5))
def test_basic_canary_split_stays_near_the_total(replicas: int, weight: int, surge: int) -> None:
    canary, stable = scaling.approximate(replicas, weight, surge)
    assert replicas <= canary + stable <= replicas + min(surge, 1)
    if replicas > 1 or surge > 0:
        assert canary >= 1 and stable >= 1
    assert abs(100 * canary / (canary + stable) - weight) <= 100 / replicas


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "fence"),
    [
        (5, None, None, (2, 1)),  # 25% of 5: surge rounds up, unavailable down
        (4, None, None, (1, 1)),
        (1, None, None, (1, 0)),
        (10, 3, "10%", (3, 1)),
        (10, "0%", "0%", (0, 1)),  # both 0: one pod may be unavailable (Kubernetes)
        (10, "50%", 0, (5, 0)),
        (10, "junk", None, (3, 2)),  # unreadable: the 25% default (the API server refuses it)
    ],
)
def test_fenceposts_are_kubernetes(
    replicas: int, surge: int | str | None, unavailable: int | str | None, fence: tuple[int, int]
) -> None:
    assert scaling.fenceposts(replicas, surge, unavailable) == fence


S = scaling.Side


@pytest.mark.parametrize(
    ("weight", "fence", "stable", "canary", "counts"),
    [
        # R = 5, maxSurge 2, maxUnavailable 1: from rest to 20%, the canary pod is added and one
        # stable pod goes at once (4 stay available)
        (20, (2, 1), S(5, 5), S(0, 0), (1, 4)),
        (40, (2, 1), S(4, 4), S(1, 1), (2, 3)),
        (80, (2, 1), S(2, 2), S(3, 3), (4, 1)),
        # no surge: the stable side makes room first, then the canary takes it
        (20, (0, 1), S(5, 5), S(0, 0), (1, 4)),
        (40, (0, 1), S(4, 4), S(1, 0), (1, 4)),  # 4 available: no room to make yet
        (40, (0, 1), S(4, 4), S(1, 1), (2, 3)),
        # the canary's new pods are not available yet: stable waits (4 must stay available)
        (60, (2, 1), S(3, 3), S(2, 0), (3, 3)),
        # abort from 2/3: stable grows first, the canary gives back as availability allows
        (0, (2, 1), S(3, 3), S(2, 2), (1, 5)),
        (0, (2, 1), S(5, 3), S(1, 1), (1, 5)),
        (0, (2, 1), S(5, 5), S(1, 1), (0, 5)),
        # nothing to do at the split
        (40, (2, 1), S(3, 3), S(2, 2), (2, 3)),
    ],
)
def test_basic_canary_moves_within_surge_and_unavailable(
    weight: int,
    fence: tuple[int, int],
    stable: scaling.Side,
    canary: scaling.Side,
    counts: tuple[int, int],
) -> None:
    assert scaling.basic_counts(5, weight, fence, stable, canary) == counts


@given(
    st.integers(1, 12),
    st.integers(0, 100),
    st.integers(0, 3),
    st.integers(0, 3),
    st.data(),
)
def test_basic_canary_converges_within_its_bounds(
    replicas: int, weight: int, surge: int, unavailable: int, data: st.DataObject
) -> None:
    """From any split that respects the bounds, pods that become available reach the target
    split, never asking for more than R + surge pods."""
    fence = (surge, unavailable if surge or unavailable else 1)
    canary = data.draw(st.integers(0, replicas), label="canary")
    stable = S(replicas - canary, replicas - canary)
    own = S(canary, canary)
    want = scaling.approximate(replicas, weight, surge)
    for _ in range(4 * replicas + 4):
        c, s = scaling.basic_counts(replicas, weight, fence, stable, own)
        assert c + s <= replicas + surge
        stable, own = S(s, s), S(c, c)
        if (c, s) == want:
            break
    assert (own.spec, stable.spec) == want


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
