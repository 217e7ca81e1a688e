"""``kubectl port-forward`` to pods of the embedded cluster (WebSocket-tunnelled SPDY, the
default of kubectl 1.32, and plain SPDY, its fallback), and the SPDY framing itself."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import subprocess
import time
import urllib.request
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cluster.podkit import IMAGE, create, is_ready, new_namespace, wait_pod
from webhook.cluster.http.spdy import DICTIONARY, Codec, Data, Ping, SpdyError, SynStream
from webhook.cluster.runtime import RunningCluster, start_in_thread


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    c = start_in_thread(without=frozenset({"webhook", "reconciler"}))
    yield c
    c.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Forward:
    """A running ``kubectl port-forward`` (stopped on exit)."""

    def __init__(self, cluster: RunningCluster, ns: str, target: str, remote: int, *,
                 websockets: bool = True) -> None:
        self.local = _free_port()
        env = {**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if websockets
               else "false"}
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", ns, "port-forward",
             "--address", "127.0.0.1", target, f"{self.local}:{remote}", "-v=6"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "Forwarding from 127.0.0.1:N -> M" once listening
        assert line.startswith("Forwarding from"), (line, self.stop())

    def get(self, path: str = "/") -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.local}{path}", timeout=10) as r:
            return bytes(r.read())

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        return err


def test_port_forward_reaches_a_demo_pod_over_the_tunnelled_and_the_plain_protocol(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                         "spec": {"containers": [{"name": "app", "image": "demo:v4",
                                                  "ports": [{"containerPort": 8080}]}]}})
    wait_pod(cluster, ns, "web", is_ready)
    for websockets, method in ((True, "GET"), (False, "POST")):
        fwd = Forward(cluster, ns, "pod/web", 8080, websockets=websockets)
        try:
            for i in range(3):  # one tunnel, several connections
                body = fwd.get(f"/n{i}")
                assert b'"version": "v4"' in body and f'"/n{i}"'.encode() in body
        finally:
            log = fwd.stop()
        assert f"{method} https://" in log and "/pods/web/portforward 101" in log, log


@pytest.mark.skipif(os.geteuid() != 0, reason="pods get their own network namespace as root")
def test_port_forward_to_an_undeclared_port_of_a_process_pod_and_an_error(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "files"},
                         "spec": {"containers": [{
                             "name": "app", "image": IMAGE, "workingDir": "/srv",
                             "command": ["python", "-c",
                                         "import pathlib, runpy, sys; "
                                         "pathlib.Path('/srv/hello.txt').write_text('hi there'); "
                                         "sys.argv = ['http.server', '9000']; "
                                         "runpy.run_module('http.server', run_name='__main__')"],
                             "readinessProbe": {"tcpSocket": {"port": 9000},
                                                "periodSeconds": 1}}]}})
    wait_pod(cluster, ns, "files", is_ready)
    fwd = Forward(cluster, ns, "pod/files", 9000)
    try:
        assert fwd.get("/hello.txt") == b"hi there"
    finally:
        fwd.stop()
    closed = Forward(cluster, ns, "pod/files", 9999)
    try:
        with pytest.raises(OSError):
            closed.get("/")
        time.sleep(0.5)
    finally:
        err = closed.stop()
    assert "error forwarding port 9999 to pod files" in err
    assert "connect: connection refused" in err


def test_port_forward_to_a_pod_that_is_not_running_is_refused(cluster):
    ns = new_namespace(cluster)
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pull"},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}})
    out = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", ns,
                          "port-forward", "pod/pull", f"{_free_port()}:80"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0
    assert "pod is not running" in out.stderr


# --- the framing -------------------------------------------------------------------------------


def test_the_dictionary_is_spdy3s():
    # SPDY/3 header dictionary: 1423 bytes, as in the draft's section 2.6.10.1
    assert len(DICTIONARY) == 1423
    assert hashlib.sha256(DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")


def test_frames_round_trip_with_one_compression_context_per_direction():
    client, server = Codec(), Codec()
    wire = b"".join([
        client.syn_stream(1, {"streamType": "error", "port": "80", "requestID": "0"}),
        client.syn_stream(3, {"streamType": "data", "port": "80", "requestID": "0"}),
        client.data(3, b"GET / HTTP/1.0\r\n\r\n"), client.data(1, b"", fin=True),
        client.ping(7)])
    frames = []
    for i in range(0, len(wire), 5):  # any split of the byte stream
        frames += server.feed(wire[i:i + 5])
    assert frames == [
        SynStream(1, {"streamtype": "error", "port": "80", "requestid": "0"}, False),
        SynStream(3, {"streamtype": "data", "port": "80", "requestid": "0"}, False),
        Data(3, b"GET / HTTP/1.0\r\n\r\n", False), Data(1, b"", True), Ping(7)]
    reply = server.syn_reply(3)
    assert reply[:4] == b"\x80\x03\x00\x02"
    assert client.feed(reply + server.syn_reply(1))[0].frame_type == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("wire", [
    struct.pack(">HHI", 0x8003, 1, 70000),            # control frame too big
    struct.pack(">HHI", 0x8002, 6, 4) + b"\0" * 4,    # SPDY/2
    struct.pack(">HHI", 0x8003, 1, 10) + b"\0" * 10 + b"x",  # header block not zlib
])
def test_bad_frames_end_the_session(wire):
    with pytest.raises(SpdyError):
        Codec().feed(wire)


def test_a_header_bomb_is_refused():
    deflate = zlib.compressobj(zdict=DICTIONARY)
    block = deflate.compress(struct.pack(">I", 1) + struct.pack(">I", 1) + b"a" +
                             struct.pack(">I", 1 << 20) + b"x" * (1 << 20))
    block += deflate.flush(zlib.Z_SYNC_FLUSH)
    body = struct.pack(">IIH", 1, 0, 0) + block
    with pytest.raises(SpdyError, match="64 KiB"):
        Codec().feed(struct.pack(">HHI", 0x8003, 1, len(body)) + body)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_spdy_error(data):
    with contextlib.suppress(SpdyError):
        Codec().feed(data)
