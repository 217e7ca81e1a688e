"""Kubeconfigs are read by canarist's bounded loader, once, and handed to the official client as
data: the client's own loader (PyYAML, unbounded) never parses the files. Hostile or broken
files get one clear error naming the file, in bounded time."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.errors import ConfigError
from webhook.kube.client import SyncClient
from webhook.kube.config import ClientOptions, load
from webhook.kube.kubeconfig import MAX_BYTES
from webhook.kube.protocol import ObjectRef

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def refused(path: Path, within: float = 5.0) -> str:
    start = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load(ClientOptions(kubeconfig=str(path)), env={})
    assert time.monotonic() - start < within
    message = str(caught.value)
    assert f"--kubeconfig: {path}" in message, message
    return message


def test_an_oversized_kubeconfig_is_refused_naming_the_file(embedded_cluster: RunningCluster,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "huge"
    text = embedded_cluster.kubeconfig.read_text()
    path.write_text(text + "# " + "x" * (MAX_BYTES + 10) + "\n")
    assert "larger than 8388608 bytes: not a kubeconfig" in refused(path)


def test_an_alias_bomb_is_refused_naming_the_file(embedded_cluster: RunningCluster,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "bomb"
    text = embedded_cluster.kubeconfig.read_text()
    path.write_text(text.replace("preferences: {}\n", "preferences:\n" + "".join(
        f"  {line}\n" for line in BOMB.splitlines())))
    assert "aliases" in refused(path)


@pytest.mark.parametrize(("text", "expected"), [
    (b"\xff\xfeclusters: []\n", "not UTF-8 text (byte 0)"),
    (b"clusters: [{cluster: {server: https://x}}]\ncurrent-context: x\n",
     "clusters: must be a list of entries with a name"),
    (b"users: {name: u}\ncurrent-context: x\n", "users: must be a list of entries with a name"),
    (b"- just a list\n", "not a kubeconfig"),
])
def test_a_malformed_kubeconfig_is_one_error_naming_the_file(tmp_path: Path, text: bytes,
                                                             expected: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(text)
    assert expected in refused(path)


def test_relative_paths_resolve_next_to_the_file_that_names_them(
        embedded_cluster: RunningCluster, tmp_path: Path) -> None:
    """Merged from two files in two directories: the CA file named relatively in the second
    is found next to the second, and the connection works with it."""
    doc = yaml.safe_load(embedded_cluster.kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    there = tmp_path / "there"
    there.mkdir()
    (there / "ca.crt").write_bytes(base64.b64decode(cluster.pop("certificate-authority-data")))
    cluster["certificate-authority"] = "ca.crt"
    doc["current-context"] = "elsewhere"  # the first file's wins
    second = there / "config"
    second.write_text(yaml.safe_dump(doc))
    first = tmp_path / "config"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                     "current-context": "canarist"}))
    conn = load(ClientOptions(), env={"KUBECONFIG": f"{first}:{second}"})
    assert conn.configuration.ssl_ca_cert == str(there / "ca.crt")
    client = SyncClient(conn)
    try:
        assert client.get(ObjectRef("v1", "Namespace", "", "default")) is not None
    finally:
        client.close()
