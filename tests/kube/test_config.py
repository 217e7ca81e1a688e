"""Where the client connects and which namespace it uses, as kubectl decides: flags,
$KUBECONFIG lists, the default file, contexts, and the in-cluster service account (with real
token and CA files, against the embedded API server)."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from webhook.cluster.runtime import RunningCluster
from webhook.errors import ConfigError
from webhook.kube.client import SyncClient
from webhook.kube.config import (
    ClientOptions,
    InCluster,
    check_namespace,
    kubeconfig_paths,
    load,
    pick_namespace,
)
from webhook.kube.protocol import ObjectRef


@pytest.mark.parametrize(("flag", "context_ns", "pod_ns", "expected"), [
    ("a", "b", "c", "a"), (None, "b", "c", "b"), (None, None, "c", "c"),
    (None, None, None, "default"), ("", "", "", "default"),
])
def test_pick_namespace(flag: str | None, context_ns: str | None, pod_ns: str | None,
                        expected: str) -> None:
    assert pick_namespace(flag, context_ns, pod_ns) == expected


@pytest.mark.parametrize("bad", ["Shop", "-x", "a_b", "x" * 64, ""])
def test_bad_namespaces_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"--namespace: .* is not a valid namespace"):
        check_namespace(bad)


def multi_context(cluster: RunningCluster, path: Path) -> Path:
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    ctx = doc["contexts"][0]
    doc["contexts"] = [
        {"name": "dev", "context": dict(ctx["context"], namespace="dev-ns")},
        {"name": "plain", "context": {k: v for k, v in ctx["context"].items()
                                      if k != "namespace"}},
    ]
    doc["current-context"] = "dev"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kubeconfig_flag_context_and_namespace(embedded_cluster: RunningCluster,
                                               tmp_path: Path) -> None:
    path = multi_context(embedded_cluster, tmp_path / "kc")
    conn = load(ClientOptions(kubeconfig=str(path)), env={})
    assert conn.namespace == "dev-ns" and conn.configuration.host == embedded_cluster.url
    assert "context dev" in conn.source
    assert load(ClientOptions(kubeconfig=str(path), context="plain"), env={}).namespace == (
        "default")
    assert load(ClientOptions(kubeconfig=str(path), namespace="x"), env={}).namespace == "x"
    with pytest.raises(ConfigError, match=r"--context: context 'nope' not found in .* "
                                          r"\(contexts: dev, plain\)"):
        load(ClientOptions(kubeconfig=str(path), context="nope"), env={})


def test_kubeconfig_env_list_and_default(embedded_cluster: RunningCluster, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = str(embedded_cluster.kubeconfig)
    missing = str(tmp_path / "missing")
    assert kubeconfig_paths(None, {"KUBECONFIG": f"{missing}:{real}"}) == real
    with pytest.raises(ConfigError, match="KUBECONFIG: none of"):
        kubeconfig_paths(None, {"KUBECONFIG": missing})
    with pytest.raises(ConfigError, match=r"--kubeconfig: .*missing: no such file"):
        kubeconfig_paths(missing, {})
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig_paths(None, {}) is None  # no ~/.kube/config: in-cluster next
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(Path(real).read_text())
    assert kubeconfig_paths(None, {}) == str(tmp_path / ".kube" / "config")
    conn = load(ClientOptions(), env={})
    assert conn.configuration.host == embedded_cluster.url


def test_merged_kubeconfig_files(embedded_cluster: RunningCluster, tmp_path: Path) -> None:
    doc = yaml.safe_load(embedded_cluster.kubeconfig.read_text())
    first = tmp_path / "a"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                     "current-context": "canarist", "clusters": [],
                                     "users": [], "contexts": []}))
    second = tmp_path / "b"
    second.write_text(yaml.safe_dump(dict(doc, **{"current-context": "elsewhere"})))
    conn = load(ClientOptions(), env={"KUBECONFIG": f"{first}:{second}"})
    assert conn.configuration.host == embedded_cluster.url  # the first current-context wins


def test_nothing_to_connect_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"no kubeconfig found .* not running in a cluster"):
        load(ClientOptions(), env={})
    with pytest.raises(ConfigError, match="--context: no kubeconfig found"):
        load(ClientOptions(context="x"), env={})


def test_in_cluster_config_reaches_the_api(embedded_cluster: RunningCluster, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    doc = yaml.safe_load(embedded_cluster.kubeconfig.read_text())
    sa = InCluster(tmp_path / "token", tmp_path / "ca.crt", tmp_path / "namespace")
    sa.token.write_text(doc["users"][0]["user"]["token"])
    sa.ca.write_bytes(base64.b64decode(doc["clusters"][0]["cluster"]
                                       ["certificate-authority-data"]))
    sa.namespace_file.write_text("from-file\n")
    url = urlsplit(embedded_cluster.url)
    env = {"KUBERNETES_SERVICE_HOST": url.hostname or "", "KUBERNETES_SERVICE_PORT":
           str(url.port)}
    conn = load(ClientOptions(), env=env, in_cluster=sa)
    assert conn.source == "in-cluster" and conn.namespace == "from-file"
    client = SyncClient(conn)
    try:
        assert client.get(ObjectRef("v1", "Namespace", "", "default")) is not None
    finally:
        client.close()
    assert load(ClientOptions(), env={**env, "POD_NAMESPACE": "pod"},
                in_cluster=sa).namespace == "pod"
    sa.token.unlink()
    with pytest.raises(ConfigError, match="in-cluster config"):
        load(ClientOptions(), env=env, in_cluster=sa)


def test_a_broken_kubeconfig_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(ConfigError, match=r"--context: .* sets no current-context"):
        load(ClientOptions(kubeconfig=str(bad)), env={})
    bad.write_text("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n")
    with pytest.raises(ConfigError, match=r"--kubeconfig: .*bad"):
        load(ClientOptions(kubeconfig=str(bad)), env={})
