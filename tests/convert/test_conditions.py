"""successCondition / failureCondition as min / max: a table of Argo's conditions."""

from __future__ import annotations

import pytest

from webhook.convert.conditions import Bounds, bounds, parse_condition

EXACT = ()


@pytest.mark.parametrize(
    ("success", "failure", "low", "high", "field", "notes"),
    [
        ("result[0] >= 0.95", None, 0.95, None, "[0]", EXACT),
        ("result <= 0.01", None, None, 0.01, "", EXACT),
        ("result == 1", None, 1.0, 1.0, "", EXACT),
        ("0.95 <= result[0]", None, 0.95, None, "[0]", EXACT),
        ("  result[0]>=95  ", None, 95.0, None, "[0]", EXACT),
        ("result > 0.90", None, 0.9, None, "", ("the value 0.9 itself now passes",)),
        ("result < 10", None, None, 10.0, "", ("the value 10 itself now passes",)),
        (None, "result[0] > 0.01", None, 0.01, "[0]", EXACT),
        (None, "result < 0.9", 0.9, None, "", EXACT),
        (None, "result[0] >= 10", None, 10.0, "[0]", ("the value 10 itself now passes",)),
        (None, "result <= 0", 0.0, None, "", ("the value 0 itself now passes",)),
        (None, "result != 1", 1.0, 1.0, "", EXACT),
        ("result >= 0.95", "result < 0.95", 0.95, None, "", EXACT),
        ("result >= 0.95", "result < 0.9", 0.95, None, "", ("was Inconclusive in Argo",)),
        ("result.major == '1'", None, 1.0, 1.0, ".major", ("the string '1' is compared",)),
        ("result == true", None, 1.0, 1.0, "", ("true is compared as the number 1",)),
        ("asFloat(result) >= 0.5", None, 0.5, None, "", EXACT),
        ("asInt(result.data[0]) <= 3", None, None, 3.0, ".data[0]", ("asInt() is not applied",)),
        ("result >= -1.5e3", None, -1500.0, None, "", EXACT),
    ],
)
def test_single_comparisons_become_bounds(success, failure, low, high, field, notes) -> None:
    found = bounds(success, failure)
    assert isinstance(found, Bounds), found
    assert (found.low, found.high, found.field) == (low, high, field)
    assert len(found.notes) == len(notes)
    for note, part in zip(found.notes, notes, strict=True):
        assert part in note


@pytest.mark.parametrize(
    ("success", "failure", "why"),
    [
        (None, None, "no successCondition or failureCondition"),
        ("result[0] >= 0.9 && result[1] > 0", None, "not a single comparison"),
        ("result.ok && result.successPercent >= 0.90", None, "not a single comparison"),
        ("default(result, 0) < 10", None, "not a single comparison"),
        ("all(result, # < 1000)", None, "not a single comparison"),
        ('result == "It worked!"', None, "not a single comparison"),
        ("len(result) > 0", None, "not a single comparison"),
        ("result != 3", None, "successCondition with != is not a range"),
        (None, "result == 3", "failureCondition with == is not a range"),
        ("result > 5", "result > 3", "no value passes both"),
        ("result.a > 5", "result.b > 9", "read different fields"),
        ("result >= " + "9" * 600, None, "longer than 500"),
        ("result >= 1 >= 2", None, "not a single comparison"),
    ],
)
def test_what_does_not_convert(success, failure, why) -> None:
    found = bounds(success, failure)
    assert isinstance(found, str) and why in found


def test_parse_condition_flips_a_reversed_comparison() -> None:
    c = parse_condition("10 > result")
    assert not isinstance(c, str) and (c.op, c.value) == ("<", 10.0)
