"""Small pure parts: proxy rates, the event format, Host and same-origin checks."""

from __future__ import annotations

import json

import pytest

from webhook.dashboard.app import host_allowed
from webhook.dashboard.rates import route_name, samples_of
from webhook.dashboard.stream import event


def test_rates_from_a_summary() -> None:
    body = {"windowSeconds": 5, "routes": {
        "web": {"stable": {"requests": 90, "errors": 1}, "canary": {"requests": 10, "errors": 5}},
        "api": {"stable": {"requests": 50, "errors": None}},
        "odd": "not an object",
        "inf": {"stable": {"requests": float("inf")}, "canary": {"requests": -3, "errors": True}},
    }}
    assert samples_of(body, 1000.0, 5) == {
        "web": (1000.0, 18.0, 0.2, 2.0, 1.0),
        "api": (1000.0, 10.0, 0.0, 0.0, 0.0),
        "inf": (1000.0, 0.0, 0.0, 0.0, 0.0),
    }
    junk: object
    for junk in (None, [], {"routes": []}, "x"):
        assert samples_of(junk, 1.0, 5) == {}


def test_route_names_follow_the_proxy_router() -> None:
    assert route_name("web") == "web"
    assert route_name("a" * 62 + "-b") == "a" * 62


def test_an_event_is_one_data_line_whatever_the_text() -> None:
    raw = event("changes", {"message": "line one\nline two\r\n\nend", "html": "<b>"}, 7)
    text = raw.decode()
    assert text.endswith("\n\n") and text.count("\n\n") == 1
    lines = text.strip("\n").split("\n")
    assert lines[:2] == ["id: 7", "event: changes"]
    assert json.loads(lines[2].removeprefix("data: ")) == {
        "message": "line one\nline two\r\n\nend", "html": "<b>"}


@pytest.mark.parametrize(("host", "ok"), [
    ("127.0.0.1:3100", True), ("localhost:3100", True), ("[::1]:3100", True), ("127.0.0.2", True),
    ("localhost", True), ("evil.example:3100", False), ("127.0.0.1.evil.example", False),
    ("", False), ("10.0.0.1:3100", False),
])
def test_only_loopback_hosts_when_bound_to_loopback(host: str, ok: bool) -> None:
    assert host_allowed(host) is ok
