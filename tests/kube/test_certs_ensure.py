"""``canarist certs ensure`` against the embedded cluster: first run issues and stores, a second
run writes nothing, rotation when near expiry (serving pair, and the CA with the old one kept in
the bundle), replicas racing converge, bad input refused."""

from __future__ import annotations

import base64
import datetime as dt
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.kube.front import Front
from webhook.cli import main
from webhook.errors import ConfigError
from webhook.kube.certs import EnsureOptions, SecretStore, ensure_certs, patch_bundle, stored_of
from webhook.kube.client import SyncClient
from webhook.kube.protocol import JSON, ObjectRef
from webhook.tls import Lifetimes, MemoryStore, ensure, service_names

SVC = "canarist-webhook"
NEVER = {"apiGroups": ["example.invalid"], "apiVersions": ["v1"], "operations": ["CREATE"],
         "resources": ["nothing"]}


def hook(name: str, service: str, ns: str) -> JSON:
    return {"name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "failurePolicy": "Ignore", "rules": [NEVER],
            "clientConfig": {"service": {"name": service, "namespace": ns, "path": "/mutate"}}}


@pytest.fixture
def mwc(sync_client: SyncClient, ns: str) -> str:
    name = f"canarist-{ns}"
    sync_client.create({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [hook("deployments.canarist.io", SVC, ns),
                     hook("other.example.com", "someone-else", ns)]})
    return name


def mwc_of(client: SyncClient, name: str) -> JSON:
    got = client.get(ObjectRef("admissionregistration.k8s.io/v1",
                               "MutatingWebhookConfiguration", "", name))
    assert got is not None
    return got


def secret_of(client: SyncClient, ns: str) -> JSON:
    got = client.get(ObjectRef("v1", "Secret", ns, "canarist-webhook-tls"))
    assert got is not None
    return got


def ensure_cli(kc: Path, ns: str, mwc: str, out: Path, *extra: str) -> int:
    return main(["certs", "ensure", "--kubeconfig", str(kc), "--service", SVC, "--namespace",
                 ns, "--webhook-config", mwc, "--out", str(out), *extra])


def pem_certs(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)


def test_first_run_issues_everything_and_a_second_writes_nothing(
        sync_client: SyncClient, ns: str, mwc: str, tmp_path: Path, front: Front,
        front_kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "certs"
    assert ensure_cli(front_kubeconfig, ns, mwc, out) == 0
    text = capsys.readouterr().out
    assert "certificates: issue-all (no certificates stored)" in text
    assert f"secret {ns}/canarist-webhook-tls: created" in text
    assert f"caBundle of mutatingwebhookconfiguration {mwc}: deployments.canarist.io" in text
    assert f"files in {out}: tls.crt, tls.key, ca.crt" in text
    secret = secret_of(sync_client, ns)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt", "ca.key", "ca-bundle.crt"}
    config = mwc_of(sync_client, mwc)
    ours, other = config["webhooks"]
    bundle = base64.b64decode(ours["clientConfig"]["caBundle"])
    assert "caBundle" not in other["clientConfig"]
    assert bundle == (out / "ca.crt").read_bytes()
    ca = pem_certs(bundle)[0]
    serving = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    serving.verify_directly_issued_by(ca)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{SVC}.{ns}.svc" in san.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    versions = (secret["metadata"]["resourceVersion"], config["metadata"]["resourceVersion"])

    before = len(front.seen)
    assert ensure_cli(front_kubeconfig, ns, mwc, out) == 0
    text = capsys.readouterr().out
    assert "certificates: keep (valid until" in text
    assert f"secret {ns}/canarist-webhook-tls: unchanged" in text
    assert "caBundle of mutatingwebhookconfiguration" in text and ": unchanged" in text
    assert f"files in {out}: unchanged" in text
    assert {s.method for s in front.seen[before:]} == {"GET"}  # not one write
    assert (secret_of(sync_client, ns)["metadata"]["resourceVersion"],
            mwc_of(sync_client, mwc)["metadata"]["resourceVersion"]) == versions
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def store_issued(client: SyncClient, ns: str, days_ago: int, life: Lifetimes) -> Any:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    certs, _ = ensure(MemoryStore(), service_names(SVC, ns), past, life)
    SecretStore(client, ns, "canarist-webhook-tls").save(certs, replaces=None)
    return certs


def test_serving_pair_rotates_near_expiry_with_the_same_ca(
        sync_client: SyncClient, ns: str, mwc: str, tmp_path: Path,
        embedded_cluster: Any, capsys: pytest.CaptureFixture[str]) -> None:
    old = store_issued(sync_client, ns, 70, Lifetimes())  # 90-day pair, due after 60
    out = tmp_path / "certs"
    assert ensure_cli(embedded_cluster.kubeconfig, ns, mwc, out) == 0
    text = capsys.readouterr().out
    assert "certificates: issue-serving (serving certificate expires" in text
    assert "renewal due" in text and ": updated" in text
    now = stored_of(secret_of(sync_client, ns))
    assert now.ca == old.ca and now.serving != old.serving
    assert now.serving.cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=80)
    assert (out / "tls.crt").read_bytes() == now.serving.cert_pem


def bundle_prints(client: SyncClient, mwc: str) -> list[bytes]:
    bundle = base64.b64decode(mwc_of(client, mwc)["webhooks"][0]["clientConfig"]["caBundle"])
    return [c.fingerprint(hashes.SHA256()) for c in pem_certs(bundle)]


def test_ca_rotation_publishes_the_new_ca_before_it_signs(
        sync_client: SyncClient, ns: str, mwc: str, tmp_path: Path,
        embedded_cluster: Any, capsys: pytest.CaptureFixture[str]) -> None:
    life = Lifetimes.of_days(30, 10)
    old = store_issued(sync_client, ns, 25, life)  # CA due after 20 days, still valid
    kc = embedded_cluster.kubeconfig
    flags = ("--ca-days", "30", "--serving-days", "10", "--ca-propagation", "2s")
    assert ensure_cli(kc, ns, mwc, tmp_path, *flags) == 0
    out = capsys.readouterr().out
    assert "certificates: stage-ca (CA expires" in out, out
    assert "a new CA joins the bundle before it signs" in out
    staged = stored_of(secret_of(sync_client, ns))
    assert staged.ca == old.ca and staged.next_ca is not None
    assert staged.serving != old.serving  # the 10-day pair issued 25 days ago: by the old CA
    staged.serving.cert.verify_directly_issued_by(old.ca.cert)
    fp = hashes.SHA256()
    assert bundle_prints(sync_client, mwc) == [old.ca.cert.fingerprint(fp),
                                               staged.next_ca.cert.fingerprint(fp)]
    # The next run sees it published and marks the moment; the one after the propagation time
    # lets it sign.
    assert ensure_cli(kc, ns, mwc, tmp_path, *flags) == 0
    assert "certificates: mark-published" in capsys.readouterr().out
    marked = stored_of(secret_of(sync_client, ns))
    assert marked.next_published_at is not None and marked.ca == old.ca
    assert ensure_cli(kc, ns, mwc, tmp_path, *flags) == 0
    assert "certificates: wait (" in capsys.readouterr().out
    time.sleep(2.1)
    assert ensure_cli(kc, ns, mwc, tmp_path, *flags) == 0
    assert "certificates: promote-ca" in capsys.readouterr().out
    new = stored_of(secret_of(sync_client, ns))
    assert new.ca == staged.next_ca and new.next_ca is None
    new.serving.cert.verify_directly_issued_by(new.ca.cert)
    assert (tmp_path / "tls.crt").read_bytes() == new.serving.cert_pem
    assert bundle_prints(sync_client, mwc) == [new.ca.cert.fingerprint(fp),
                                               old.ca.cert.fingerprint(fp)]


def test_replicas_racing_converge_on_one_set(sync_client: SyncClient, ns: str, mwc: str,
                                             tmp_path: Path) -> None:
    outs = [tmp_path / f"replica{i}" for i in range(4)]
    errors: list[BaseException] = []

    def replica(out: Path) -> None:
        try:
            ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=mwc, out=out))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(o,)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    stored = stored_of(secret_of(sync_client, ns))
    for out in outs:
        assert (out / "tls.crt").read_bytes() == stored.serving.cert_pem
        assert (out / "tls.key").read_bytes() == stored.serving.key_pem


def test_bad_input(sync_client: SyncClient, ns: str, mwc: str, tmp_path: Path,
                   embedded_cluster: Any, capsys: pytest.CaptureFixture[str]) -> None:
    kc = embedded_cluster.kubeconfig
    assert ensure_cli(kc, ns, mwc, tmp_path, "--serving-days", "0") == 2
    assert "--serving-days: must be at least 1, got 0" in capsys.readouterr().err
    assert ensure_cli(kc, ns, mwc, tmp_path, "--every", "0.5") == 2
    assert main(["certs", "ensure", "--kubeconfig", str(kc), "--service", SVC,
                 "--namespace", "Not_A_Namespace"]) == 2
    assert "--namespace" in capsys.readouterr().err
    assert ensure_cli(kc, ns, "no-such-config", tmp_path) == 1
    assert "mutatingwebhookconfiguration no-such-config not found" in capsys.readouterr().err
    assert main(["certs", "ensure", "--kubeconfig", str(kc), "--service", "elsewhere",
                 "--namespace", ns, "--webhook-config", mwc, "--secret", "other"]) == 2
    err = capsys.readouterr().err
    assert f"has no webhook calling service {ns}/elsewhere" in err


def test_patch_bundle_table() -> None:
    config: JSON = {"metadata": {"name": "c"}, "webhooks": [
        hook("a.example.com", SVC, "ns"),
        dict(hook("b.example.com", SVC, "ns"),
             clientConfig={"service": {"name": SVC, "namespace": "ns"},
                           "caBundle": base64.b64encode(b"B").decode()}),
        hook("c.example.com", SVC, "other-ns")]}
    new, names = patch_bundle(config, b"B", SVC, "ns")
    assert names == ["a.example.com", "b.example.com"] and new is not None
    assert [w["clientConfig"].get("caBundle") for w in new["webhooks"]] == ["Qg==", "Qg==", None]
    assert "caBundle" not in config["webhooks"][0]["clientConfig"]  # input untouched
    assert patch_bundle(new, b"B", SVC, "ns")[0] is None
    with pytest.raises(ConfigError, match="has no webhook calling service x/y"):
        patch_bundle(config, b"B", "y", "x")


def test_every_keeps_checking(sync_client: SyncClient, ns: str, mwc: str,
                              tmp_path: Path) -> None:
    from webhook.kube.certs import keep_ensuring

    reports: list[Any] = []
    naps: list[float] = []
    opts = EnsureOptions(SVC, ns, webhook_config=mwc, out=tmp_path)
    keep_ensuring(sync_client, opts, 300.0, reports.append, sleep=naps.append, rounds=3)
    assert [r.action for r in reports] == ["issue-all", "keep", "keep"]
    assert naps == [300.0, 300.0]  # the interval, as the renewal is weeks away
    soon = Lifetimes.of_days(3650, 1)  # renewal due in 16 hours
    reports.clear()
    naps.clear()
    keep_ensuring(sync_client, EnsureOptions(SVC, ns, secret="short-lived", webhook_config=mwc,
                                             out=tmp_path / "short", life=soon),
                  10 ** 6, reports.append, sleep=naps.append, rounds=2)
    assert [r.action for r in reports] == ["issue-all", "keep"]
    assert 15 * 3600 < naps[0] < 17 * 3600  # sleeps until the planned renewal, not 11 days
