"""The routes-file watcher keeps going whatever happens: pure calls of ``FileSource.check``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from webhook.proxy.source import FileSource, one_line
from webhook.proxy.table import Resolver
from webhook.spec.routetable import RouteTable

GOOD = 'routes: [{name: web, stable: {endpoints: ["127.0.0.2:1"]}}]\n'


class Applied:
    """An ``apply`` that records tables, and fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.tables: list[RouteTable] = []
        self.failing: Exception | None = None

    def __call__(self, table: RouteTable, resolve: Resolver) -> None:
        if self.failing is not None:
            raise self.failing
        self.tables.append(table)


@pytest.mark.parametrize(("failure", "logged"), [
    (RuntimeError("boom\nsecond line"), "unexpected RuntimeError: boom\\nsecond line"),
    (RecursionError(), "unexpected RecursionError: "),
    (MemoryError("x" * 5000), "unexpected MemoryError: " + "x" * 1976 + "... (3024 more)"),
])
def test_an_unexpected_error_refuses_the_table_in_one_line_and_the_watch_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: Exception, logged: str,
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(GOOD)
    source = FileSource(str(path))
    source.load()
    applied = Applied()
    applied.failing = failure
    path.write_text(GOOD.replace("web", "web2"))
    with caplog.at_level(logging.ERROR, "canarist.proxy"):
        assert source.check(applied) is False
        assert source.check(applied) is False  # unchanged: not tried (nor logged) again
    assert [r.getMessage() for r in caplog.records] == [
        f"refused new routes: {path}: {logged}; keeping the last good table"]
    applied.failing = None
    source.reload_now()  # SIGHUP tries the same file again
    assert source.check(applied) is True
    assert [r.name for r in applied.tables[-1].routes] == ["web2"]
    path.write_text(GOOD.replace("web", "web3"))  # and later edits apply
    assert source.check(applied) is True
    assert [r.name for r in applied.tables[-1].routes] == ["web3"]


def test_one_line() -> None:
    assert one_line("a\r\nb") == "a\\r\\nb"
    assert one_line("abcdef", 3) == "abc... (3 more)"
