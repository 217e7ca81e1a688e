"""Every server command answers an address in use (or not on this machine) with one line and
exit code 2, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def taken() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ports")
    subprocess.run([sys.executable, "-m", "webhook.cli", "certs", "generate", "--service", "s",
                    "--namespace", "n", "--out", str(out)], check=True, capture_output=True)
    (out / "routes.yaml").write_text(
        "routes:\n- name: web\n  stable: {endpoints: ['127.0.0.1:9']}\n")
    return out


def command(name: str, port: int, files: Path) -> list[str]:
    webhook = ["webhook", "--tls-cert", str(files / "tls.crt"), "--tls-key",
               str(files / "tls.key")]
    proxy = ["proxy", "--routes", str(files / "routes.yaml")]
    return {
        "webhook": [*webhook, "--listen", f"127.0.0.1:{port}"],
        "webhook-elsewhere": [*webhook, "--listen", "192.0.2.1:8443"],
        "proxy": [*proxy, "--listen", f"127.0.0.1:{port}"],
        "proxy-workers": [*proxy, "--listen", f"127.0.0.1:{port}", "--workers", "2"],
        "proxy-admin": [*proxy, "--listen", "127.0.0.1:0", "--admin-listen", f"127.0.0.1:{port}"],
        "up": ["up", "--port", str(port), "--kubeconfig", str(files / "kubeconfig")],
    }[name]


@pytest.mark.parametrize(
    "name", ["webhook", "webhook-elsewhere", "proxy", "proxy-workers", "proxy-admin", "up"]
)
def test_an_address_in_use_is_one_line_and_exit_2(name: str, taken: int, files: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "webhook.cli", *command(name, taken, files)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1 and errors[0].startswith("canarist: "), result.stderr
    assert "Traceback" not in result.stderr
