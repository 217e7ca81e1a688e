"""``canarist.io/history``: recording points, bounds, and lenient reading (tables)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.spec.history import MAX_POINTS, MAX_TEXT, History, Point, record


def pt(at: int, set_weight: int = 0, weight: int = 0, phase: str = "Progressing",
       step: int = 0) -> Point:
    return Point(at, set_weight, weight, phase, step)


H = History("bbb", (pt(100), pt(110, 20, 20, "Paused", 1)))


@pytest.mark.parametrize(
    ("previous", "release", "point", "starts", "expected"),
    [
        # a release starts: a new history, whatever was there
        (History(), "bbb", pt(100), True, History("bbb", (pt(100),))),
        (History("aaa", (pt(1),)), "bbb", pt(100), True, History("bbb", (pt(100),))),
        # the same state again: nothing to write
        (H, "bbb", pt(120, 20, 20, "Paused", 1), True, None),
        # a new state: appended
        (H, "bbb", pt(120, 50, 20, "Progressing", 2), True,
         History("bbb", (*H.points, pt(120, 50, 20, "Progressing", 2)))),
        # the release ended (canary == stable): appended to the history there is
        (H, "ccc", pt(130, 0, 0, "Healthy", 4), False,
         History("bbb", (*H.points, pt(130, 0, 0, "Healthy", 4)))),
        # never released: nothing recorded
        (History(), "aaa", pt(100, 0, 0, "Healthy", 0), False, None),
    ],
)
def test_record(previous: History, release: str, point: Point, starts: bool,
                expected: History | None) -> None:
    assert record(previous, release, point, starts=starts) == expected


def test_bounded_keeps_the_start_and_the_latest() -> None:
    h = History("r", (pt(0),))
    for i in range(1, 3 * MAX_POINTS):
        got = record(h, "r", pt(i, i % 100, i % 100), starts=True)
        assert got is not None
        h = got
    assert len(h.points) == MAX_POINTS
    assert h.points[0] == pt(0)
    assert h.points[-1].at == 3 * MAX_POINTS - 1
    assert [p.at for p in h.points[1:]] == list(range(2 * MAX_POINTS + 1, 3 * MAX_POINTS))
    assert len(h.to_json()) < MAX_TEXT  # what is written is always read back


def test_round_trip_is_compact() -> None:
    text = H.to_json()
    assert text == '{"release":"bbb","points":[[100,0,0,"Progressing",0],[110,20,20,"Paused",1]]}'
    assert History.from_json(text) == H


@pytest.mark.parametrize(
    "text",
    [None, "", "null", "[]", "{", '{"release": 1, "points": []}', '{"release": "x"}',
     '{"release": "x", "points": {}}', "[" * 5000 + "]" * 5000,
     json.dumps({"release": "x", "points": [[1, 2, 3, "Paused", 0]] * 2000})],
)
def test_unreadable_is_empty(text: str | None) -> None:
    assert History.from_json(text).points == ()


def test_bad_points_are_skipped() -> None:
    raw = {"release": "x", "points": [
        [1, 0, 0, "Progressing", 0],    # good
        [2, 0, 0, "Sleeping", 0],       # unknown phase
        [3, 101, 0, "Paused", 0],       # weight out of range
        [4, 0, -1, "Paused", 0],
        [5, 0, 0, "Paused"],            # too short
        [6.5, 0, 0, "Paused", 0],       # not an integer
        [True, 0, 0, "Paused", 0],
        "x",
        [7, 50, 50, "Paused", 2],       # good
    ]}
    assert History.from_json(json.dumps(raw)).points == (pt(1), pt(7, 50, 50, "Paused", 2))


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=6) | st.dictionaries(st.text(max_size=8), c,
                                                                        max_size=6),
                    max_leaves=40))
def test_never_raises(doc: object) -> None:
    try:
        text = json.dumps(doc)
    except ValueError:
        return
    h = History.from_json(text)
    assert len(h.points) <= MAX_POINTS
    assert History.from_json(h.to_json()) == h
