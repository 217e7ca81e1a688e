"""``canarist demo``: the view as text, and the whole demo run end to end."""

from __future__ import annotations

import asyncio
import io
from collections import Counter

import pytest

from webhook.demo.load import Counts
from webhook.demo.scenario import Demo
from webhook.demo.view import Period, bar, status_line, summary, traffic
from webhook.spec import Phase, ReleaseStatus


def test_bar_and_traffic() -> None:
    assert bar(0) == "[....................]"
    assert bar(50) == "[##########..........]"
    assert bar(100) == "[####################]"
    assert traffic(Counts()) == "no traffic yet"
    counts = Counts(Counter(v1=80, v2=20), Counter({"?": 5}))
    assert traffic(counts) == "v1 80% v2 20% errors 5%"


def test_status_line() -> None:
    status = ReleaseStatus(phase=Phase.PAUSED, step=1, steps=4, weight=20)
    line = status_line("v2", status, Counts(Counter(v1=8, v2=2)))
    assert line == (
        "v2  Paused      step 2/4  weight  20% [####................] traffic: v1 80% v2 20%"
    )


def test_summary_table() -> None:
    periods = [
        Period("v1 alone", 2.0, Counts(Counter(v1=120)), "v1 serves"),
        Period("release v3", 1.5, Counts(Counter(v2=80, v3=5), Counter(v3=5)), "aborted"),
    ]
    assert summary(periods, ("v1", "v2", "v3")).splitlines() == [
        "period      seconds  requests   v1  v2  v3  errors  outcome",
        "----------  -------  --------  ---  --  --  ------  ---------",
        "v1 alone        2.0       120  120   0   0       0  v1 serves",
        "release v3      1.5        90    0  80   5       5  aborted",
    ]


@pytest.mark.slow
def test_the_demo_releases_v2_and_aborts_v3_by_analysis() -> None:
    out = io.StringIO()
    code = asyncio.run(Demo(out, tty=False).run())
    text = out.getvalue()
    assert code == 0, text
    assert "done in" in text
    assert "v2 promoted" in text and "v3 aborted by analysis" in text and "back on v2" in text
    assert "\x1b[" not in text  # no terminal control codes when not on a terminal
    assert "background analysis failed: metric success-rate Failed" in text


def test_screen_without_a_terminal_prints_one_line_per_state_once_it_settled() -> None:
    import io

    from webhook.demo.scenario import Screen

    out = io.StringIO()
    screen = Screen(out, tty=False)
    screen.changed()
    screen.live("a 0.1", 0.1)  # too young: its traffic share would be the previous state's
    screen.live("a 1.2", 1.2)  # settled: printed
    screen.live("a 1.9", 1.9)  # already shown
    screen.changed()
    screen.live("b 0.3", 0.3)  # ends before settling: printed when the next state starts
    screen.changed()
    screen.live("c 0.5", 0.5)
    screen.end_live()
    assert out.getvalue().splitlines() == ["a 1.2", "b 0.3", "c 0.5"]
