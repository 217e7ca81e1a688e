"""``--listen`` parsing."""

from __future__ import annotations

import pytest

from webhook.admission.config import parse_listen
from webhook.admission.server import parse_timeout
from webhook.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0.0.0.0:8443", ("0.0.0.0", 8443)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:8443", ("::", 8443)),
        ("[::1]:65535", ("::1", 65535)),
        ("localhost:443", ("localhost", 443)),
    ],
)
def test_good(text: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8443", "must be HOST:PORT"),
        (":8443", "IPv6 in brackets"),
        ("host:", "must be HOST:PORT"),
        ("host:65536", "port 0-65535"),
        ("host:-1", "port 0-65535"),
        ("host:²", "port 0-65535"),  # a digit to str.isdigit, not to int()
        ("::1:8443", "IPv6 in brackets"),
        ("[nope]:8443", "is not an IPv6 address"),
    ],
)
def test_bad(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_listen(text)
    assert str(info.value).startswith("--listen: ")


@pytest.mark.parametrize(
    ("query", "timeout"),
    [
        ("timeout=10s", 10.0),
        ("foo=bar&timeout=3s", 3.0),
        ("timeout=1.5s&x=y", 1.5),
        ("", None),
        ("timeout=10", None),
        ("timeout=s", None),
        ("timeout=0s", None),
        ("timeout=-1s", None),
        ("timeout=infs", None),
        ("timeout=nans", None),
        ("xtimeout=5s", None),
    ],
)
def test_parse_timeout(query: str, timeout: float | None) -> None:
    assert parse_timeout(query) == timeout
