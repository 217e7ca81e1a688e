"""One JSON object per log line, on stderr.

Callers pass structured fields with ``extra={"fields": {...}}``; they become top-level keys.

The webhook logs a line for every review that changes or denies an object, so a line must be
cheap: the encoder is built once, the timestamp text is reused within a second, and ``configure``
turns off what the records would otherwise gather and no line prints (the caller's file and
line, thread and process names: the logging HOWTO's "Optimization" switches).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

LEVELS = ("debug", "info", "warning", "error")

_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JSONFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float, msecs: float) -> str:
        secs = int(created)
        if secs != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
            self._second = secs
        return f"{self._stamp}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._timestamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(out)


def configure(level: str = "info", stream: IO[str] | None = None) -> None:
    """Send every ``canarist`` and ``aiohttp`` log record to ``stream`` as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Nothing in a line needs these, and every record would pay for them.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
