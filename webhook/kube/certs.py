"""``canarist certs ensure``: the webhook's certificates kept in the cluster (DESIGN §7).

Every webhook replica (or an init container) runs it; they converge on one set of certificates:

1. **Secret** (``SecretStore``, the ``webhook.tls.CertStore`` of the in-cluster mode): the CA and
   serving pair live in one ``kubernetes.io/tls`` Secret (``tls.crt``, ``tls.key``, ``ca.crt``,
   ``ca.key``, ``ca-bundle.crt``). ``webhook.tls.ensure`` loads it, decides with the pure
   ``plan`` (issue when missing, broken, lacking a name, or past 2/3 of its lifetime), and saves
   with compare-and-swap: creates fail with 409 if another replica created first, updates are
   guarded by the ``resourceVersion`` read, and the loser re-reads and keeps the winner's
   certificates.
2. **caBundle**: every webhook of the MutatingWebhookConfiguration that calls the Service gets
   the bundle (the CA, plus the previous CA while it is still valid, so rotation never breaks
   calls in flight). Written only when different, with a ``resourceVersion`` guard.
3. **Files** (``--out DIR``): ``tls.crt``, ``tls.key`` (0600) and ``ca.crt``, replaced atomically
   and only when different, so the webhook server's hot reload picks up a rotation.

A second run with nothing due writes nothing. ``--every SECONDS`` keeps it running: it runs again
at that interval or at the planned renewal time, whichever comes first; a round that fails is
reported and tried again soon (1 s, doubling up to the interval) rather than ending the process.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webhook.errors import (
    CanaristError,
    ConfigError,
    Conflict,
    NotFound,
    Problem,
    TLSConfigError,
)
from webhook.kube.client import SyncClient
from webhook.kube.protocol import JSON, ObjectRef
from webhook.tls import KeyPair, Lifetimes, Stored, ensure, next_check, service_names
from webhook.tls.files import write_atomic

log = logging.getLogger("canarist.kube.certs")
MANAGED = {"app.kubernetes.io/managed-by": "canarist"}
MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def stored_of(secret: Mapping[str, Any]) -> Stored:
    """Read a Secret leniently: missing or garbled keys read as empty (``plan`` then reissues)."""
    data = secret.get("data") or {}
    return Stored(
        ca=KeyPair(_unb64(data.get("ca.crt")), _unb64(data.get("ca.key"))),
        serving=KeyPair(_unb64(data.get("tls.crt")), _unb64(data.get("tls.key"))),
        bundle=_unb64(data.get("ca-bundle.crt")) or _unb64(data.get("ca.crt")),
    )


def secret_data(certs: Stored) -> dict[str, str]:
    return {
        "tls.crt": _b64(certs.serving.cert_pem),
        "tls.key": _b64(certs.serving.key_pem),
        "ca.crt": _b64(certs.ca.cert_pem),
        "ca.key": _b64(certs.ca.key_pem),
        "ca-bundle.crt": _b64(certs.bundle),
    }


class SecretStore:
    """``webhook.tls.CertStore`` on a Secret, compare-and-swap by ``resourceVersion``."""

    def __init__(self, client: SyncClient, namespace: str, name: str) -> None:
        self.client = client
        self.ref = ObjectRef("v1", "Secret", namespace, name)
        self._versions: dict[Stored, str] = {}
        self.writes: list[str] = []  # "created" / "updated", in order

    def load(self) -> Stored | None:
        secret = self.client.get(self.ref)
        if secret is None:
            return None
        stored = stored_of(secret)
        self._versions[stored] = str(secret["metadata"].get("resourceVersion", ""))
        return stored

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        body: JSON = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace,
                         "labels": dict(MANAGED)},
            "data": secret_data(certs),
        }
        if replaces is None:
            self.client.create(body)  # 409 AlreadyExists: another replica was first
            self.writes.append("created")
            return
        rv = self._versions.get(replaces)
        if not rv:
            raise Conflict("the certificates to replace were not read from this Secret")
        body["metadata"]["resourceVersion"] = rv
        self.client.replace(body)  # 409 when another replica saved in between
        self.writes.append("updated")


def patch_bundle(
    config: Mapping[str, Any], bundle: bytes, service: str, namespace: str
) -> tuple[JSON | None, list[str]]:
    """The MutatingWebhookConfiguration with ``bundle`` as the ``caBundle`` of every webhook
    calling ``namespace/service`` (None when none needed a change), and their names.
    ``ConfigError`` when no webhook calls the Service."""
    wanted = _b64(bundle)
    new = copy.deepcopy(dict(config))
    ours: list[str] = []
    changed = False
    for hook in new.get("webhooks") or ():
        cc = hook.get("clientConfig") if isinstance(hook, dict) else None
        svc = cc.get("service") if isinstance(cc, dict) else None
        if not isinstance(svc, dict) or (svc.get("name"), svc.get("namespace")) != (
            service, namespace
        ):
            continue
        ours.append(str(hook.get("name", "")))
        if cc is not None and cc.get("caBundle") != wanted:
            cc["caBundle"] = wanted
            changed = True
    if not ours:
        name = (config.get("metadata") or {}).get("name", "")
        raise ConfigError([Problem(
            "--webhook-config",
            f"MutatingWebhookConfiguration {name} has no webhook calling service "
            f"{namespace}/{service}",
        )])
    return (new if changed else None), ours


@dataclass(frozen=True)
class EnsureOptions:
    service: str
    namespace: str
    secret: str = "canarist-webhook-tls"
    webhook_config: str | None = "canarist"
    out: Path | None = None
    extra_sans: Sequence[str] = ()
    life: Lifetimes = field(default_factory=Lifetimes)


@dataclass(frozen=True)
class Report:
    action: str
    reason: str
    secret: str  # created, updated or unchanged
    webhooks: tuple[str, ...]  # names whose caBundle was written
    files: tuple[str, ...]  # files written
    next_check: dt.datetime

    def lines(self, opts: EnsureOptions) -> list[str]:
        out = [
            f"certificates: {self.action} ({self.reason})",
            f"secret {opts.namespace}/{opts.secret}: {self.secret}",
        ]
        if opts.webhook_config:
            what = ", ".join(self.webhooks) if self.webhooks else "unchanged"
            out.append(f"caBundle of mutatingwebhookconfiguration {opts.webhook_config}: {what}")
        if opts.out is not None:
            out.append(f"files in {opts.out}: {', '.join(self.files) or 'unchanged'}")
        out.append(f"next check: {self.next_check.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        return out


def ensure_certs(client: SyncClient, opts: EnsureOptions, *, now: dt.datetime | None = None
                 ) -> Report:
    names = service_names(opts.service, opts.namespace, opts.extra_sans)
    moment = now or dt.datetime.now(dt.UTC)
    store = SecretStore(client, opts.namespace, opts.secret)
    certs, step = ensure(store, names, moment, opts.life)
    webhooks: tuple[str, ...] = ()
    if opts.webhook_config:
        webhooks = tuple(_write_bundle(client, opts, certs.bundle))
    files = tuple(_write_files(opts.out, certs)) if opts.out is not None else ()
    return Report(
        action=step.action.value,
        reason=step.reason,
        secret=store.writes[-1] if store.writes else "unchanged",
        webhooks=webhooks,
        files=files,
        next_check=next_check(certs, opts.life),
    )


def _write_bundle(client: SyncClient, opts: EnsureOptions, bundle: bytes) -> list[str]:
    assert opts.webhook_config
    ref = ObjectRef(*MWC, "", opts.webhook_config)
    for _ in range(5):
        config = client.get(ref)
        if config is None:
            raise NotFound(
                f"mutatingwebhookconfiguration {opts.webhook_config} not found", status=404
            )
        new, names = patch_bundle(config, bundle, opts.service, opts.namespace)
        if new is None:
            return []
        try:
            client.replace(new)
        except Conflict:
            continue
        return names
    raise TLSConfigError(f"mutatingwebhookconfiguration {opts.webhook_config} kept changing")


def _write_files(out: Path, certs: Stored) -> list[str]:
    wanted = {"tls.crt": (certs.serving.cert_pem, 0o644), "tls.key": (certs.serving.key_pem,
              0o600), "ca.crt": (certs.bundle, 0o644)}
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, (data, mode) in wanted.items():
            path = out / name
            if path.exists() and path.read_bytes() == data:
                continue
            write_atomic(path, data, mode)
            written.append(name)
    except OSError as exc:
        raise TLSConfigError(f"cannot write certificates to {out}: {exc.strerror}") from exc
    return written


def keep_ensuring(
    client: SyncClient,
    opts: EnsureOptions,
    every: float,
    emit: Callable[[Report], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
    failed: Callable[[CanaristError], None] = lambda exc: None,
) -> None:
    """``--every``: ensure, report, sleep until the next round (or the planned renewal).

    A round that fails (the MutatingWebhookConfiguration not created yet — a chart's pods may
    start before it —, the API server unreachable or refusing) is reported to ``failed`` and
    tried again after 1 s, doubling up to ``every``: a keeper in a pod outlives what a later
    round fixes, instead of exiting into a crash loop."""
    done = 0
    retry = 1.0
    while rounds is None or done < rounds:
        try:
            report = ensure_certs(client, opts)
        except CanaristError as exc:
            failed(exc)
            pause, retry = min(retry, every), min(retry * 2, every)
        else:
            emit(report)
            retry = 1.0
            until_due = (report.next_check - dt.datetime.now(dt.UTC)).total_seconds()
            pause = max(1.0, min(every, until_due))
        done += 1
        if rounds is None or done < rounds:
            sleep(pause)
