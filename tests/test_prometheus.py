"""The shared exposition helpers: cumulative buckets, +Inf, sum and count; label escaping."""

from __future__ import annotations

import pytest

from webhook.prometheus import Histogram, escape_label


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    h = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        h.observe(value)
    assert h.render("x_seconds") == [
        'x_seconds_bucket{le="0.1"} 2',  # a value on a bound counts in it (le)
        'x_seconds_bucket{le="1.0"} 3',
        'x_seconds_bucket{le="+Inf"} 4',
        "x_seconds_sum 3.65",
        "x_seconds_count 4",
    ]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("web", "web"), ('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb")],
)
def test_label_values_are_escaped(value: str, escaped: str) -> None:
    assert escape_label(value) == escaped
