"""The certificate Secret goes with the webhook configuration (its owner), and ``--follow``
only reads a Secret someone else issues (cert-manager), adopting it."""

from __future__ import annotations

import base64
import datetime as dt
import time
from pathlib import Path

import pytest

from tests.kube.test_certs_ensure import SVC, hook, mwc_of, secret_of
from webhook.errors import NotFound
from webhook.kube.certs import EnsureOptions, ensure_certs
from webhook.kube.client import SyncClient
from webhook.kube.protocol import ObjectRef
from webhook.tls import MemoryStore, ensure, service_names
from webhook.tls.renewal import Lifetimes

SECRET = ObjectRef("v1", "Secret", "", "canarist-webhook-tls")


def make_mwc(client: SyncClient, ns: str, name: str) -> str:
    client.create({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name}, "webhooks": [hook("deployments.canarist.io", SVC, ns)]})
    return name


def wait_gone(client: SyncClient, ref: ObjectRef, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get(ref) is None:
            return True
        time.sleep(0.1)
    return False


def test_the_secret_is_owned_by_the_configuration_and_goes_with_it(
        sync_client: SyncClient, ns: str, tmp_path: Path) -> None:
    name = make_mwc(sync_client, ns, f"owner-{ns}")
    ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=name, out=tmp_path))
    config = mwc_of(sync_client, name)
    secret = secret_of(sync_client, ns)
    assert secret["metadata"]["ownerReferences"] == [{
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "name": name, "uid": config["metadata"]["uid"]}]
    # A rotation keeps the reference (the Secret is replaced, not re-created).
    report = ensure_certs(sync_client, EnsureOptions(
        SVC, ns, webhook_config=name, extra_sans=["hook.example.com"]))
    assert report.action == "issue-serving" and report.secret == "updated"
    assert secret_of(sync_client, ns)["metadata"]["ownerReferences"][0]["name"] == name
    sync_client.delete(ObjectRef("admissionregistration.k8s.io/v1",
                                 "MutatingWebhookConfiguration", "", name))
    assert wait_gone(sync_client, ObjectRef("v1", "Secret", ns, "canarist-webhook-tls"))


def test_a_secret_made_without_an_owner_is_adopted(
        sync_client: SyncClient, ns: str) -> None:
    name = make_mwc(sync_client, ns, f"adopt-{ns}")
    ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=None))
    assert "ownerReferences" not in secret_of(sync_client, ns)["metadata"]
    report = ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=name))
    assert (report.action, report.secret) == ("keep", "adopted")
    assert [r["name"] for r in secret_of(sync_client, ns)["metadata"]["ownerReferences"]] == [
        name]
    again = ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=name))
    assert again.secret == "unchanged"


def test_follow_reads_adopts_and_issues_nothing(sync_client: SyncClient, ns: str,
                                                tmp_path: Path) -> None:
    name = make_mwc(sync_client, ns, f"follow-{ns}")
    opts = EnsureOptions(SVC, ns, webhook_config=name, out=tmp_path, follow=True)
    with pytest.raises(NotFound, match=r"holds no tls\.crt and tls\.key yet"):
        ensure_certs(sync_client, opts)
    assert sync_client.get(ObjectRef("v1", "Secret", ns, "canarist-webhook-tls")) is None
    # cert-manager's Secret: tls.crt, tls.key and ca.crt only.
    certs, _ = ensure(MemoryStore(), service_names(SVC, ns), dt.datetime.now(dt.UTC), Lifetimes())
    sync_client.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": "canarist-webhook-tls", "namespace": ns},
                        "data": {"tls.crt": _b64(certs.serving.cert_pem),
                                 "tls.key": _b64(certs.serving.key_pem),
                                 "ca.crt": _b64(certs.ca.cert_pem)}})
    report = ensure_certs(sync_client, opts)
    assert (report.action, report.secret, report.webhooks) == ("keep", "adopted", ())
    assert (tmp_path / "tls.crt").read_bytes() == certs.serving.cert_pem
    assert (tmp_path / "tls.key").read_bytes() == certs.serving.key_pem
    secret = secret_of(sync_client, ns)
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}  # nothing added
    assert "caBundle" not in mwc_of(sync_client, name)["webhooks"][0]["clientConfig"]
    assert ensure_certs(sync_client, opts).secret == "unchanged"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_other_secrets_are_adopted_by_name(sync_client: SyncClient, ns: str) -> None:
    name = make_mwc(sync_client, ns, f"others-{ns}")
    sync_client.create({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "issuer-ca", "namespace": ns},
                        "data": {"ca.crt": _b64(b"x")}})
    report = ensure_certs(sync_client, EnsureOptions(SVC, ns, webhook_config=name,
                                                     adopt=("issuer-ca", "not-there")))
    assert report.secret == "created, adopted issuer-ca"
    other = sync_client.get(ObjectRef("v1", "Secret", ns, "issuer-ca"))
    assert other is not None and other["metadata"]["ownerReferences"][0]["name"] == name
    assert ensure_certs(sync_client, EnsureOptions(
        SVC, ns, webhook_config=name, adopt=("issuer-ca",))).secret == "unchanged"
