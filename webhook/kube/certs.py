"""The webhook's certificates kept in the cluster (DESIGN §7): ``canarist certs ensure``, and
the keeper a ``canarist webhook --cert-secret`` replica runs (``webhook.kube.certkeep``).

Every webhook replica converges on one set of certificates:

1. **Secret** (``SecretStore``, the ``webhook.tls.CertStore`` of the in-cluster mode): the CA and
   serving pair live in one ``kubernetes.io/tls`` Secret (``tls.crt``, ``tls.key``, ``ca.crt``,
   ``ca.key``, ``ca-bundle.crt``; while a CA rotates also ``next-ca.crt``/``next-ca.key`` and the
   annotation ``canarist.io/next-ca-published-at``). ``webhook.tls.ensure`` loads it, decides with
   the pure ``plan`` (see ``webhook.tls.renewal`` for the order that never fails an admission),
   and saves with compare-and-swap: creates fail with 409 if another replica created first,
   updates are guarded by the ``resourceVersion`` read, and the loser re-reads and keeps the
   winner's certificates. The Secret is owned by the MutatingWebhookConfiguration (an
   ``ownerReference``), so deleting the configuration (``helm uninstall``) deletes it too.
2. **caBundle**: every webhook of the MutatingWebhookConfiguration that calls the Service gets
   the bundle (the CA, a staged CA, and older CAs until they expire). Written only when
   different, with a ``resourceVersion`` guard. The bundle read before deciding tells ``plan``
   whether a staged CA has been published.
3. **Files** (``--out DIR``): ``tls.crt``, ``tls.key`` (0600) and ``ca.crt``, replaced atomically
   and only when different, so the webhook server's hot reload picks up a rotation.

``follow`` (certificates issued by someone else, e.g. cert-manager): the Secret is only read (and
adopted by the configuration), nothing is issued and the caBundle is left to its injector.

A second run with nothing due writes nothing. ``--every SECONDS`` keeps it running: it runs again
at that interval or at the planned renewal time, whichever comes first.
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

from webhook.errors import ConfigError, Conflict, NotFound, Problem, TLSConfigError
from webhook.kube.client import SyncClient
from webhook.kube.protocol import JSON, ObjectRef
from webhook.tls import (
    Action,
    KeyPair,
    Lifetimes,
    Plan,
    Stored,
    ensure,
    next_check,
    service_names,
)
from webhook.tls.files import write_atomic

log = logging.getLogger("canarist.kube.certs")
MANAGED = {"app.kubernetes.io/managed-by": "canarist"}
MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
PUBLISHED_AT = "canarist.io/next-ca-published-at"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def _stamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.strptime(value, STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def stored_of(secret: Mapping[str, Any]) -> Stored:
    """Read a Secret leniently: missing or garbled keys read as empty (``plan`` then reissues)."""
    data = secret.get("data") or {}
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    next_ca = KeyPair(_unb64(data.get("next-ca.crt")), _unb64(data.get("next-ca.key")))
    return Stored(
        ca=KeyPair(_unb64(data.get("ca.crt")), _unb64(data.get("ca.key"))),
        serving=KeyPair(_unb64(data.get("tls.crt")), _unb64(data.get("tls.key"))),
        bundle=_unb64(data.get("ca-bundle.crt")) or _unb64(data.get("ca.crt")),
        next_ca=next_ca if next_ca.cert_pem else None,
        next_published_at=_stamp(annotations.get(PUBLISHED_AT)) if next_ca.cert_pem else None,
    )


def secret_data(certs: Stored) -> dict[str, str]:
    data = {
        "tls.crt": _b64(certs.serving.cert_pem),
        "tls.key": _b64(certs.serving.key_pem),
        "ca.crt": _b64(certs.ca.cert_pem),
        "ca.key": _b64(certs.ca.key_pem),
        "ca-bundle.crt": _b64(certs.bundle),
    }
    if certs.next_ca is not None:
        data["next-ca.crt"] = _b64(certs.next_ca.cert_pem)
        data["next-ca.key"] = _b64(certs.next_ca.key_pem)
    return data


class SecretStore:
    """``webhook.tls.CertStore`` on a Secret, compare-and-swap by ``resourceVersion``.

    ``owner``: the ``ownerReference`` every write puts on the Secret (None: leave them)."""

    def __init__(self, client: SyncClient, namespace: str, name: str,
                 owner: JSON | None = None) -> None:
        self.client = client
        self.ref = ObjectRef("v1", "Secret", namespace, name)
        self.owner = owner
        self._read: dict[Stored, JSON] = {}
        self.writes: list[str] = []  # "created" / "updated" / "adopted", in order

    def load(self) -> Stored | None:
        secret = self.client.get(self.ref)
        if secret is None:
            return None
        stored = stored_of(secret)
        self._read[stored] = secret
        return stored

    def save(self, certs: Stored, *, replaces: Stored | None) -> None:
        annotations = {}
        if certs.next_ca is not None and certs.next_published_at is not None:
            annotations[PUBLISHED_AT] = certs.next_published_at.strftime(STAMP)
        meta: JSON = {"name": self.ref.name, "namespace": self.ref.namespace,
                      "labels": dict(MANAGED)}
        if annotations:
            meta["annotations"] = annotations
        if replaces is None:
            if self.owner is not None:
                meta["ownerReferences"] = [dict(self.owner)]
            body: JSON = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                          "metadata": meta, "data": secret_data(certs)}
            self.client.create(body)  # 409 AlreadyExists: another replica was first
            self.writes.append("created")
            return
        current = self._read.get(replaces)
        if current is None:
            raise Conflict("the certificates to replace were not read from this Secret")
        body = copy.deepcopy(dict(current))
        old = body.get("metadata") or {}
        kept = {k: v for k, v in (old.get("annotations") or {}).items() if k != PUBLISHED_AT}
        body["metadata"] = dict(old, labels=dict(old.get("labels") or {}, **MANAGED))
        body["metadata"].pop("annotations", None)
        if kept or annotations:
            body["metadata"]["annotations"] = dict(kept, **annotations)
        body["data"] = secret_data(certs)
        self._own(body["metadata"])
        self.client.replace(body)  # 409 when another replica saved in between
        self.writes.append("updated")

    def adopt(self, stored: Stored) -> bool:
        """Put the owner reference on the Secret ``stored`` was read from, if it lacks it."""
        current = self._read.get(stored)
        if self.owner is None or current is None:
            return False
        body = copy.deepcopy(dict(current))
        if not self._own(body.setdefault("metadata", {})):
            return False
        self.client.replace(body)
        self.writes.append("adopted")
        return True

    def _own(self, meta: JSON) -> bool:
        """Add the owner reference to ``meta``; True when it was missing."""
        if self.owner is None:
            return False
        refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, Mapping)]
        if any(r.get("uid") == self.owner["uid"] for r in refs):
            return False
        meta["ownerReferences"] = [*refs, dict(self.owner)]
        return True


def _ours(hook: Any, service: str, namespace: str) -> dict[str, Any] | None:
    """The clientConfig of a webhook that calls ``namespace/service``."""
    cc = hook.get("clientConfig") if isinstance(hook, dict) else None
    svc = cc.get("service") if isinstance(cc, dict) else None
    if isinstance(svc, dict) and (svc.get("name"), svc.get("namespace")) == (service, namespace):
        return cc
    return None


def published_bundle(config: Mapping[str, Any], service: str, namespace: str) -> bytes:
    """The caBundle every webhook calling the Service carries (b"" unless they all agree)."""
    found = {str(cc.get("caBundle") or "") for hook in config.get("webhooks") or ()
             if (cc := _ours(hook, service, namespace)) is not None}
    return _unb64(found.pop()) if len(found) == 1 else b""


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
        cc = _ours(hook, service, namespace)
        if cc is None:
            continue
        ours.append(str(hook.get("name", "")))
        if cc.get("caBundle") != wanted:
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


def owner_of(config: Mapping[str, Any]) -> JSON:
    """The ``ownerReference`` that makes an object go when the configuration goes."""
    meta = config.get("metadata") or {}
    return {"apiVersion": MWC[0], "kind": MWC[1], "name": str(meta.get("name") or ""),
            "uid": str(meta.get("uid") or "")}


@dataclass(frozen=True)
class EnsureOptions:
    service: str
    namespace: str
    secret: str = "canarist-webhook-tls"
    webhook_config: str | None = "canarist"
    out: Path | None = None
    extra_sans: Sequence[str] = ()
    life: Lifetimes = field(default_factory=Lifetimes)
    follow: bool = False  # someone else issues (cert-manager): read, adopt, write files only
    adopt: Sequence[str] = ()  # other Secrets the configuration should own (cert-manager's CA)


@dataclass(frozen=True)
class Report:
    action: str
    reason: str
    secret: str  # created, updated, adopted or unchanged
    webhooks: tuple[str, ...]  # names whose caBundle was written
    files: tuple[str, ...]  # files written
    next_check: dt.datetime
    certs: Stored | None = None

    def lines(self, opts: EnsureOptions) -> list[str]:
        out = [
            f"certificates: {self.action} ({self.reason})",
            f"secret {opts.namespace}/{opts.secret}: {self.secret}",
        ]
        if opts.webhook_config and not opts.follow:
            what = ", ".join(self.webhooks) if self.webhooks else "unchanged"
            out.append(f"caBundle of mutatingwebhookconfiguration {opts.webhook_config}: {what}")
        if opts.out is not None:
            out.append(f"files in {opts.out}: {', '.join(self.files) or 'unchanged'}")
        out.append(f"next check: {self.next_check.strftime(STAMP)}")
        return out


def ensure_certs(client: SyncClient, opts: EnsureOptions, *, now: dt.datetime | None = None
                 ) -> Report:
    names = service_names(opts.service, opts.namespace, opts.extra_sans)
    moment = now or dt.datetime.now(dt.UTC)
    config = _config(client, opts.webhook_config) if opts.webhook_config else None
    owner = owner_of(config) if config is not None else None
    store = SecretStore(client, opts.namespace, opts.secret, owner)
    if opts.follow:
        certs, step = _follow(store, opts), Plan(Action.KEEP, "issued by someone else")
        store.adopt(certs)
    else:
        published = None
        if config is not None:
            patch_bundle(config, b"", opts.service, opts.namespace)  # refused if none calls us
            published = published_bundle(config, opts.service, opts.namespace)
        certs, step = ensure(store, names, moment, opts.life, published=published)
        if not store.writes:
            store.adopt(certs)
    if owner is not None:
        for name in opts.adopt:
            other = SecretStore(client, opts.namespace, name, owner)
            found = other.load()
            if found is not None and other.adopt(found):
                store.writes.append(f"adopted {name}")
    webhooks: tuple[str, ...] = ()
    if opts.webhook_config and not opts.follow:
        webhooks = tuple(_write_bundle(client, opts, certs.bundle, config))
    files = tuple(_write_files(opts.out, certs)) if opts.out is not None else ()
    return Report(
        action=step.action.value,
        reason=step.reason,
        secret=", ".join(dict.fromkeys(store.writes)) or "unchanged",
        webhooks=webhooks,
        files=files,
        next_check=next_check(certs, opts.life) if not opts.follow else _serving_end(certs),
        certs=certs,
    )


def _follow(store: SecretStore, opts: EnsureOptions) -> Stored:
    certs = store.load()
    if certs is None or not certs.serving.cert_pem or not certs.serving.key_pem:
        raise NotFound(f"secret {opts.namespace}/{opts.secret} holds no tls.crt and tls.key yet",
                       status=404)
    return certs


def _serving_end(certs: Stored) -> dt.datetime:
    try:
        return certs.serving.cert.not_valid_after_utc
    except ValueError as exc:
        raise TLSConfigError(f"tls.crt does not load: {exc}") from exc


def _config(client: SyncClient, name: str) -> JSON:
    config = client.get(ObjectRef(*MWC, "", name))
    if config is None:
        raise NotFound(f"mutatingwebhookconfiguration {name} not found", status=404)
    return config


def _write_bundle(client: SyncClient, opts: EnsureOptions, bundle: bytes,
                  config: JSON | None) -> list[str]:
    assert opts.webhook_config
    for _ in range(5):
        if config is None:
            config = _config(client, opts.webhook_config)
        new, names = patch_bundle(config, bundle, opts.service, opts.namespace)
        if new is None:
            return []
        try:
            client.replace(new)
        except Conflict:
            config = None
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
) -> None:
    """``--every``: ensure, report, sleep until the next round (or the planned renewal)."""
    done = 0
    while rounds is None or done < rounds:
        report = ensure_certs(client, opts)
        emit(report)
        done += 1
        until_due = (report.next_check - dt.datetime.now(dt.UTC)).total_seconds()
        if rounds is None or done < rounds:
            sleep(max(1.0, min(every, until_due)))
