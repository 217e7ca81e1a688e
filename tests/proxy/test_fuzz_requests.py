"""The proxy's request parsing under generated and fuzzed input (``scripts/fuzz_proxy.py`` says
what must hold); what the fuzzer found stays here as regression cases."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.fuzz_proxy_harness import check

ROOT = Path(__file__).resolve().parents[2]

# found by scripts/fuzz_proxy.py, each a failure of the code of its day
FINDINGS = [
    # an HTTP/0.9-style line answered 404 with "Connection: close": the bytes after it were
    # still parsed and answered with a 400 written to the closed connection
    (b"GET /a?b1.}}}}}}5\r\nExpect: 100-continue\r\n\r\nhel\r\n", []),
    # bytes after a request that ends the connection, while it is in flight: not a 400
    (base64.b64decode("R0VUACAvYWVlOiBhPTMNCkdFVCAvCkhvc3Q6IHdlYg0KVG5zYVJmcjogMA0KDQpGdDogg2E="),
     [20]),
    # a request after a 404 that closed the connection, in the same read, went upstream
    (b"PUT / HTTP/1.1\r\nHost: we*b\r\nContent-Length: 5\r\nExpect: 100-cue\r\n\r\nhell\x00"
     b"GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw",
     [30]),
    # a good request parsed (held) behind one in flight was dropped when a later one was bad
    (b"GET / HTTP/1.1\r\nHost: web\r\n\r\nGET /any'x HTTP/1.1\r\nHost: other\r\n\r\n"
     b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", [30, 70]),
    # a 404 answered before its chunked body ended closes the connection: what came after it
    # is answered only if it was read already
    (base64.b64decode(
        "DQoJAQAADQpYLQBQT1NUIC9hbnkgSFRUUC8xLjENCkhvc3Q6IHdlYg0KVHJhbnNmZXItRW5jb2Rpbmc6IGNo"
        "dW5rZWQNCg0KMw0KYWJjDQowDQpYLVRyYWlsZXI6IDENCg0KSEVBRCAvIEhUVFAvMS4xDQpIbXN0OiBhLmV4"
        "YXItRW5jb2RpbmdtcGxlUE9TVCAvYW55IEhUVFAvMS4xDQpIb3N0OiB2ZWINClRyYW5zZmVyLUVuY29kaW5n"
        "OiBjaHVua2VkDQoNCjMNCmFiYw0KMA0KWC1UcmFpbGVyOiAxDQoNCkhFQUQgLyBIVFRQLzEuMQ0KSG1UcnI6"
        "c3Q6IGEuZXhhci1FbmNvZG5dSG9zdA0KDToK"), [120]),
    # a head over several reads left its byte count to the next head, whose budget shrank
    (b"GET /=\r\n\r\n" + b"\xa8" * 4 + b"\xa0" + b"\xa8" * 5 + b"C /=" + b"\xa8" * 8 + b"\x00\x11",
     [6, 1, 43, 50]),
]


@pytest.mark.parametrize(("data", "cuts"), FINDINGS)
def test_fuzzer_findings(data: bytes, cuts: list[int]) -> None:
    check(data, cuts)


METHOD = st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"OPTIONS", b"CONNECT", b"G\x00T"])
TARGET = st.sampled_from([b"/", b"/any", b"/any/x?y=1", b"*", b"http://web/a", b"/%zz",
                          b"/" + b"a" * 300])
VERSION = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 ", b""])
FIELD = st.sampled_from([
    b"Host: web", b"Host: other", b"Host: a.example", b"Host: a b", b"Host:", b"Cookie: c=1",
    b"X-Canary: yes", b"Content-Length: 3", b"Content-Length: 0", b"Content-Length: -1",
    b"Content-Length: 3, 3", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: gzip, chunked", b"Connection: close", b"Connection: keep-alive",
    b"Connection: Upgrade", b"Connection: Host, X-A", b"Upgrade: websocket",
    b"Expect: 100-continue", b"X-Forwarded-For: 1.2.3.4", b"X-Forwarded-Proto: https",
    b"X-A: " + b"v" * 300, b" folded", b"X-B:\tv", b"Bad Name: v", b"X-C: a\rb",
])
BODY = st.sampled_from([b"", b"abc", b"3\r\nabc\r\n0\r\n\r\n", b"zz\r\n", b"0\r\nT: 1\r\n\r\n",
                        b"ffffffffffffffffff\r\n", b"3\r\nabcXX"])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    line = draw(METHOD) + b" " + draw(TARGET) + (b" " if draw(st.booleans()) else b"") \
        + draw(VERSION)
    fields = draw(st.lists(FIELD, max_size=14))
    end = draw(st.sampled_from([b"\r\n", b"\n", b"\r\n\r\n"]))
    return line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + end + draw(BODY)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(requests(), min_size=1, max_size=4),
       cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=6))
def test_generated_requests_keep_every_invariant(messages: list[bytes], cuts: list[int]) -> None:
    check(b"".join(messages), cuts)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(1, 600), max_size=4))
def test_random_bytes_keep_every_invariant(data: bytes, cuts: list[int]) -> None:
    check(data, cuts)


def test_the_coverage_guided_fuzzer_runs_clean_for_a_few_seconds(tmp_path: Path) -> None:
    """atheris (libFuzzer) from the seed inputs, 5 s; any finding fails (and is kept in
    ``tmp_path`` to become a regression case above)."""
    done = subprocess.run(
        [sys.executable, "scripts/fuzz_proxy.py", "-max_total_time=5", "-rss_limit_mb=1024",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(tmp_path / "corpus")],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [line for line in done.stderr.splitlines()
            if line.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[0].split(":")[-1]) > 200, done.stderr[-2000:]
