"""The allocator setting of ``canarist webhook``: a TLS read buffer comes from the heap.

Checked in a fresh process (the setting is process-wide) through glibc's own accounting
(``mallinfo2``: memory held in mmap-ed chunks), around the very allocation a TLS read makes: an
``SSLObject.read(256 KiB)`` on a real in-memory TLS connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from webhook.admission.alloc import ENV

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import ctypes, json, ssl, sys
import trustme

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2

from webhook.admission.alloc import tune_allocator
tuned = tune_allocator() if sys.argv[1] == "tune" else False

ca = trustme.CA()
server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("canarist-webhook.canarist.svc").configure_cert(server_ctx)
client_ctx = ssl.create_default_context()
ca.configure_trust(client_ctx)
pipes = [ssl.MemoryBIO() for _ in range(4)]
server = server_ctx.wrap_bio(pipes[0], pipes[1], server_side=True)
client = client_ctx.wrap_bio(pipes[2], pipes[3], server_hostname="canarist-webhook.canarist.svc")
for _ in range(10):  # the handshake, in memory
    for end in (client, server):
        try:
            end.do_handshake()
        except ssl.SSLWantReadError:
            pass
    pipes[0].write(pipes[3].read())
    pipes[2].write(pipes[1].read())
client.write(b"x" * 5000)
pipes[0].write(pipes[3].read())

held = []
before = libc.mallinfo2().hblkhd
for _ in range(20):
    held.append(server.read(256 * 1024))  # what the event loop's SSL protocol asks for
    client.write(b"x" * 5000)
    pipes[0].write(pipes[3].read())
during = libc.mallinfo2().hblkhd
print(json.dumps({"tuned": tuned, "mmapped_growth": during - before, "read": len(held[0])}))
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run the probe in a fresh process: no malloc settings from our environment, ``env``'s."""
    inherited = {k: v for k, v in os.environ.items() if k not in ENV}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tls_read_buffers_come_from_the_heap_once_tuned() -> None:
    default = _probe("default")
    if default["mmapped_growth"] == 0:
        pytest.skip("this C library does not serve large buffers with mmap")
    # Without the setting, each 256 KiB read buffer of a kept bytes object is its own mapping.
    assert default["read"] == 5000
    assert isinstance(default["mmapped_growth"], int) and default["mmapped_growth"] > 20 * 4096
    tuned = _probe("tune")
    assert tuned == {"tuned": True, "mmapped_growth": 0, "read": 5000}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_an_operators_own_setting_wins() -> None:
    result = _probe("tune", {"MALLOC_MMAP_THRESHOLD_": "131072"})
    assert result["tuned"] is False
    assert isinstance(result["mmapped_growth"], int) and result["mmapped_growth"] > 0
