"""``canarist webhook`` as its own process, for the tests that need the real command (memory,
hostile input): TLS on a free loopback port, its JSON log in a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def start_webhook(cert: Path, key: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The process and its port once it serves (it drains for no time on SIGTERM); killed if it
    does not come up."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webhook.cli", "webhook", "--tls-cert", str(cert),
             "--tls-key", str(key), "--listen", "127.0.0.1:0", "--drain-seconds", "0"],
            stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        return proc, serving_port(log, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def serving_port(log: Path, proc: subprocess.Popen[bytes]) -> int:
    """The port of the webhook's ``serving`` log line, waited for up to 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("msg") == "serving":
                return int(str(entry["address"]).rsplit(":", 1)[1])
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("the webhook did not start")
