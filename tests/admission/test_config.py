"""``--listen`` parsing."""

from __future__ import annotations

import pytest

from webhook.admission.config import parse_listen
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
