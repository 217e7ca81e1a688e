"""A pod's volumes on the node: set up before its containers start, kept current after.

Every volume is checked (a missing Secret or ConfigMap, or key, that is not ``optional`` keeps
the pod in ContainerCreating with a ``FailedMount`` event:
``MountVolume.SetUp failed for volume "certs" : secret "webhook-tls" not found``), retried
with a growing delay and at once when a Secret, ConfigMap or the pod itself changes. For pods
that run processes the files are written (``atomic_writer``) under the pod's directory; a
changed Secret or ConfigMap reaches them within seconds (the ``..data`` swap), projected
ServiceAccount tokens are requested through TokenRequest and renewed at 80% of their lifetime.
Demo-app pods only check (nothing reads their files) and request no tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webhook.cluster.controllers.objects import parse_time
from webhook.cluster.kubelet.atomic_writer import PayloadError, write
from webhook.cluster.kubelet.volumes import (
    Objects,
    TokenSpec,
    VolumeError,
    kind_of,
    payload,
    token_requests,
)
from webhook.errors import APIStatusError

if TYPE_CHECKING:
    from webhook.cluster.kubelet.pod_worker import PodWorker

log = logging.getLogger(__name__)
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
RESYNC = 60.0


class _AnyToken(Mapping[TokenSpec, str]):
    """For pods that only need their volumes checked: every token is there (and empty)."""

    def __getitem__(self, key: TokenSpec) -> str:
        return ""

    def __iter__(self) -> Iterator[TokenSpec]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return True


class PodVolumes:
    def __init__(self, worker: PodWorker, *, write_files: bool) -> None:
        self.worker = worker
        self.write_files = write_files
        self.dirs: dict[str, tuple[Path, str]] = {}
        self.tokens: dict[TokenSpec, tuple[str, float]] = {}  # token, renew at (monotonic)

    @property
    def specs(self) -> list[Mapping[str, Any]]:
        return list((self.worker.pod.get("spec") or {}).get("volumes") or ())

    async def _token(self, ts: TokenSpec) -> str:
        cached = self.tokens.get(ts)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        w = self.worker
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [ts.audience] if ts.audience else [],
                         "expirationSeconds": ts.expiration_seconds,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": w.name,
                                            "uid": w.uid}}}
        try:
            out = await w.node.api.create("serviceaccounts", w.namespace, body,
                                          subresource="token", name=ts.service_account,
                                          user=w.node.user)
        except APIStatusError as exc:
            raise VolumeError(f"failed to fetch token: {exc}") from exc
        status = out.get("status") or {}
        token = str(status.get("token") or "")
        if not token:
            raise VolumeError("failed to fetch token: the TokenRequest returned no token")
        ttl = float((out.get("spec") or {}).get("expirationSeconds") or ts.expiration_seconds)
        expires = parse_time(status.get("expirationTimestamp"))
        left = (expires - w.node.clock()) if expires is not None else ttl
        self.tokens[ts] = (token, time.monotonic() + max(1.0, left - 0.2 * ttl))
        return token

    def next_renewal(self) -> float:
        """Seconds until a token is due for renewal (``RESYNC`` at most)."""
        if not self.tokens:
            return RESYNC
        soonest = min(at for _, at in self.tokens.values())
        return max(0.5, min(RESYNC, soonest - time.monotonic()))

    async def project(self) -> list[tuple[str, str]]:
        """Set every volume up once; the failures as (volume, message)."""
        failures: list[tuple[str, str]] = []
        for v in self.specs:
            name = str(v.get("name") or "")
            try:
                await self._project_one(v, name)
            except VolumeError as exc:
                failures.append((name, str(exc)))
        return failures

    def check(self) -> bool:
        """For pods that only need their volumes checked: all there, right now?"""
        w = self.worker
        objs = Objects(w.pod, w.ip, w.node.pool.host_ip, w.node.secret(w.namespace),
                       w.node.configmap(w.namespace), _AnyToken())
        try:
            for v in self.specs:
                payload(v, objs)
        except VolumeError:
            return False
        return True

    async def _project_one(self, v: Mapping[str, Any], name: str) -> None:
        w = self.worker
        tokens: Mapping[TokenSpec, str]
        if self.write_files:
            tokens = {ts: await self._token(ts) for ts in token_requests(v, w.pod)}
        else:
            tokens = _AnyToken()
        objs = Objects(w.pod, w.ip, w.node.pool.host_ip, w.node.secret(w.namespace),
                       w.node.configmap(w.namespace), tokens)
        files = payload(v, objs)
        kind = kind_of(v)
        if not self.write_files:
            return
        target = w.pod_dir() / "volumes" / kind / name
        if files is None:
            target.mkdir(parents=True, exist_ok=True, mode=0o777)
            target.chmod(0o777)  # emptyDir: writable by any user of the pod
        else:
            try:
                write(target, files, clock=w.node.clock())
            except (PayloadError, OSError) as exc:
                raise VolumeError(str(exc)) from exc
        self.dirs[name] = (target, kind)

    async def mount(self) -> bool:
        """Until every volume is set up (or the pod stops); ``False`` if it stopped."""
        w = self.worker
        delay = RETRY_FIRST
        while not w.stopping:
            failures = await self.project()
            if not failures:
                return True
            for name, message in failures:
                w.event("Warning", "FailedMount",
                        f'MountVolume.SetUp failed for volume "{name}" : {message}')
            await w.wait_change(delay)
            delay = min(delay * 2, RETRY_MAX)
        return False

    async def keep_current(self) -> None:
        """Re-project on every change of the objects the volumes read, and for tokens."""
        w = self.worker
        while not w.stopping:
            await w.wait_change(self.next_renewal())
            if w.is_stopping():
                return
            with contextlib.suppress(Exception):
                for name, message in await self.project():
                    w.event("Warning", "FailedMount",
                            f'MountVolume.SetUp failed for volume "{name}" : {message}')


async def sleep_or(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
