"""The JSON log lines: one object per line, the record's own time, fields on top."""

from __future__ import annotations

import calendar
import io
import json
import logging
import time
from pathlib import PurePosixPath

import pytest

from webhook.admission.jsonlog import JSONFormatter, configure


def _record(created: float, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "canarist.webhook", logging.INFO, "x.py", 1, "review %s", ("a",), None
    )
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    record.fields = fields
    return record


@pytest.mark.parametrize(
    ("created", "stamp"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_795_000_000.25, "2026-11-18T11:06:40.250Z"),
        (1_795_000_000.875, "2026-11-18T11:06:40.875Z"),
        (1_795_000_001.0, "2026-11-18T11:06:41.000Z"),
    ],
)
def test_timestamp_is_the_records_own_time_in_utc(created: float, stamp: str) -> None:
    assert json.loads(JSONFormatter().format(_record(created)))["ts"] == stamp


def test_one_formatter_follows_the_clock_across_seconds() -> None:
    fmt = JSONFormatter()
    stamps = [json.loads(fmt.format(_record(t)))["ts"] for t in (100.5, 100.75, 101.125, 100.875)]
    assert stamps == [
        "1970-01-01T00:01:40.500Z",
        "1970-01-01T00:01:40.750Z",
        "1970-01-01T00:01:41.125Z",
        "1970-01-01T00:01:40.875Z",
    ]


def test_fields_become_top_level_keys_and_odd_values_are_text() -> None:
    line = JSONFormatter().format(
        _record(0.0, uid="ü-1", ms=0.5, denied=None, odd=PurePosixPath("/a/b"))
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry == {
        "ts": "1970-01-01T00:00:00.000Z",
        "level": "info",
        "logger": "canarist.webhook",
        "msg": "review a",
        "uid": "ü-1",
        "ms": 0.5,
        "denied": None,
        "odd": "/a/b",
    }
    assert "ü-1" in line  # UTF-8 as it is, not \\u escapes


def test_configure_writes_json_lines_with_tracebacks() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    switches = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
    saved_switches = {name: getattr(logging, name) for name in switches}
    try:
        configure("info", stream)
        log = logging.getLogger("canarist.test")
        log.debug("hidden")
        log.info("shown", extra={"fields": {"n": 1}})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, value in saved_switches.items():
            setattr(logging, name, value)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["level"], e["msg"]) for e in lines] == [("info", "shown"), ("error", "failed")]
    assert lines[0]["n"] == 1
    assert "ValueError: boom" in lines[1]["exc"]
    logged = calendar.timegm(time.strptime(lines[0]["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(logged - time.time()) < 60
