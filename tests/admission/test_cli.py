"""``canarist mutate`` and ``canarist webhook`` as processes: exit codes, output, SIGTERM drain."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from tests.admission.conftest import GOLDEN, Pki, golden
from tests.admission.rawhttp import closed_by_peer, exchange, open_tls
from webhook.admission import jsoncodec, review
from webhook.admission.alloc import ENV

CLI = [sys.executable, "-m", "webhook.cli"]


def _mutate(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, "mutate", *args], input=stdin, capture_output=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "stem", ["22-update-new-canary", "05-create-invalid-annotations", "10-ignore-delete"]
)
def test_mutate_prints_the_same_response_as_the_server(stem: str) -> None:
    done = _mutate(["-f", str(GOLDEN / f"{stem}.request.json")])
    assert done.returncode == 0, done.stderr  # allowed and denied alike
    assert json.loads(done.stdout) == json.loads((GOLDEN / f"{stem}.response.json").read_text())


def test_mutate_reads_stdin() -> None:
    done = _mutate(["-f", "-"], stdin=golden("01-create-stamps-hash"))
    assert done.returncode == 0
    assert json.loads(done.stdout) == review(golden("01-create-stamps-hash")).response.to_dict()


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"{", "canarist: bad AdmissionReview: body is not JSON"),
        (
            b'{"kind": "Deployment"}',
            'canarist: bad AdmissionReview: apiVersion: must be "admission',
        ),
        (b"\xff", "canarist: bad AdmissionReview: body is not UTF-8 JSON"),
    ],
)
def test_mutate_bad_input_exits_2_with_one_line(stdin: bytes, message: str) -> None:
    done = _mutate(["-f", "-"], stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_mutate_missing_file_exits_2(tmp_path: Path) -> None:
    done = _mutate(["-f", str(tmp_path / "nope.json")])
    assert done.returncode == 2 and b"cannot read" in done.stderr


def test_mutate_refuses_an_endless_input_unread() -> None:
    result = _mutate(["-f", "/dev/zero"])  # read whole before: never returned
    assert (result.returncode, result.stderr) == (
        2, b"canarist: /dev/zero: is larger than 3145728 bytes\n")


def test_webhook_bad_listen_exits_2(pki: Pki) -> None:
    done = subprocess.run(
        [
            *CLI,
            "webhook",
            "--tls-cert",
            str(pki.cert),
            "--tls-key",
            str(pki.key),
            "--listen",
            "8443",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and b"--listen: must be HOST:PORT" in done.stderr


def test_webhook_unloadable_certificate_exits_1(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("nope")
    done = subprocess.run(
        [
            *CLI,
            "webhook",
            "--tls-cert",
            str(tmp_path / "k"),
            "--tls-key",
            str(tmp_path / "k"),
            "--listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.decode().startswith("canarist: cannot load TLS certificate")


async def _served_serial(port: int, ctx: ssl.SSLContext) -> int:
    _, writer = await open_tls(port, ctx)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return x509.load_der_x509_certificate(der).serial_number


async def test_webhook_process_drains_on_sigterm(pki: Pki) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "webhook", "--tls-cert", str(pki.cert), "--tls-key", str(pki.key),
        "--listen", "127.0.0.1:0", "--drain-seconds", "1", "--reload-interval", "0.1",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    logs: list[dict[str, object]] = []
    try:
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert line, "the webhook exited before serving"
            logs.append(json.loads(line))
            if logs[-1]["msg"] == "serving":
                break
        port = int(str(logs[-1]["address"]).rsplit(":", 1)[1])
        assert logs[-1]["json"] == jsoncodec.name()  # the same libraries as this process has
        assert logs[-1]["malloc_tuned"] is (
            sys.platform.startswith("linux") and not set(ENV) & os.environ.keys()
        )
        ctx = pki.client_context()
        idle_r, idle_w = await open_tls(port, ctx)
        assert (await exchange(idle_r, idle_w, "/mutate", golden("22-update-new-canary")))[0] == 200

        # the real command runs on uvloop: a swapped certificate is served there too
        serial = pki.reissue()
        for _ in range(100):
            if await _served_serial(port, ctx) == serial:
                break
            await asyncio.sleep(0.05)
        assert await _served_serial(port, ctx) == serial

        proc.send_signal(signal.SIGTERM)
        assert await closed_by_peer(idle_r, within=0.8), "idle keep-alive connection left open"
        reader, writer = await open_tls(port, ctx)  # during the drain: answered, then closed
        status, headers, _ = await exchange(reader, writer, "/readyz", b"")
        assert (status, headers["connection"]) == (503, "close")
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        rest = await proc.stderr.read()
        logs += [json.loads(line) for line in rest.splitlines()]
        idle_w.close()
        writer.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    messages = [entry["msg"] for entry in logs]
    assert "review" in messages and "draining" in messages and messages[-1] == "stopped"
    review_log = next(entry for entry in logs if entry["msg"] == "review")
    assert review_log["outcome"] == "mutated" and review_log["reason"] == "canary"
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in logs)
