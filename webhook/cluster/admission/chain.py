"""The webhook admission chain: calls matching webhooks over HTTPS, as upstream.

Mutating webhooks are called serially, configurations sorted by name, webhooks in list order
(k8s-semantics §2.1); validating webhooks, after the object is valid, all at once, and the
first refusal or failure to arrive decides (the validating dispatcher's ``errs[0]``). A
service reference is dialled at a ready endpoint of the Service (its EndpointSlices, or, when
it has none yet, the ready pods its selector picks), with TLS verified against ``caBundle``
for the name ``<svc>.<ns>.svc``; a ``url`` is dialled as written. Outcomes follow §2.4.
Nothing is done (no copy, no lookup) when no configuration exists, so the path stays cheap.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from webhook.cluster import status as st
from webhook.cluster.admission.attributes import Attributes
from webhook.cluster.admission.endpoints import resolve_service
from webhook.cluster.admission.match import webhook_matches
from webhook.cluster.admission.review import (
    InvalidResponse,
    Verdict,
    build_request,
    denial,
    parse_response,
)
from webhook.cluster.meta import labels_of
from webhook.cluster.patching import json_patch
from webhook.cluster.store import Event
from webhook.errors import APIStatusError

if TYPE_CHECKING:
    from webhook.cluster.api import ClusterAPI

log = logging.getLogger(__name__)
MWC = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VWC = "validatingwebhookconfigurations.admissionregistration.k8s.io"


class CallFailed(Exception):
    """Calling the webhook failed (transport, TLS, timeout, status, invalid response)."""


class AdmissionChain:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self._hooks: dict[str, list[dict[str, Any]]] = {}  # configuration resource -> hooks
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}
        api.store.add_listener(self._invalidate)

    def _invalidate(self, ev: Event) -> None:
        self._hooks.pop(ev.resource, None)

    def webhooks(self, resource: str = MWC) -> list[dict[str, Any]]:
        """Every webhook of every configuration, in call order (shared: do not mutate)."""
        hooks = self._hooks.get(resource)
        if hooks is None:
            configs = sorted(self.api.store.iter(resource), key=lambda c: c["metadata"]["name"])
            hooks = self._hooks[resource] = [w for c in configs for w in c.get("webhooks") or []]
        return hooks

    def _relevant(self, resource: str, attrs: Attributes, obj: dict[str, Any] | None
                  ) -> list[dict[str, Any]]:
        """The webhooks a request goes to; a dry run refused by one with side effects."""
        hooks = self.webhooks(resource)
        if not hooks:
            return []
        ns_labels: dict[str, str] | None = None
        if attrs.rt.namespaced and attrs.namespace:
            nso = self.api.store.get("namespaces", "", attrs.namespace)
            ns_labels = labels_of(nso) if nso is not None else {}
        out = []
        for hook in hooks:
            if not webhook_matches(hook, attrs, obj, ns_labels):
                continue
            if attrs.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
                raise st.bad_request(f'admission webhook "{hook["name"]}" does not support '
                                     "dry run")
            out.append(hook)
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def mutate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> dict[str, Any] | None:
        for hook in self._relevant(MWC, attrs, obj):
            obj = await self._call(hook, attrs, obj, warnings)
        return obj

    async def validate(
        self, attrs: Attributes, obj: dict[str, Any] | None, warnings: list[str]
    ) -> None:
        """Call every matching validating webhook at once; the first refusal (or failure of a
        webhook that fails closed) to arrive is the answer, the others are logged."""
        hooks = self._relevant(VWC, attrs, obj)
        if not hooks:
            return
        errors: list[APIStatusError] = []
        found: list[list[str]] = [[] for _ in hooks]

        async def one(i: int, hook: Mapping[str, Any]) -> None:
            try:
                await self._verdict(hook, attrs, obj, found[i], mutating=False)
            except APIStatusError as exc:
                errors.append(exc)

        await asyncio.gather(*(one(i, h) for i, h in enumerate(hooks)))
        for each in found:
            warnings.extend(each)
        for extra in errors[1:]:
            log.info("validating admission: %s", extra)
        if errors:
            raise errors[0]

    async def _verdict(
        self, hook: Mapping[str, Any], attrs: Attributes, obj: dict[str, Any] | None,
        warnings: list[str], *, mutating: bool,
    ) -> Verdict | None:
        """One call: the verdict, None if it failed open; a denial or a failure closed raises."""
        name = str(hook.get("name"))
        review = build_request(attrs, obj)
        try:
            verdict: Verdict = await self._post(hook, review, mutating=mutating)
        except CallFailed as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                log.warning("failed calling webhook %s (failurePolicy Ignore): %s", name, exc)
                return None
            raise st.internal(f'failed calling webhook "{name}": {exc}') from exc
        warnings.extend(verdict.warnings)
        if not verdict.allowed:
            raise APIStatusError(denial(name, verdict.status))
        return verdict

    async def _call(
        self, hook: Mapping[str, Any], attrs: Attributes, obj: dict[str, Any] | None,
        warnings: list[str],
    ) -> dict[str, Any] | None:
        name = str(hook.get("name"))
        verdict = await self._verdict(hook, attrs, obj, warnings, mutating=True)
        if verdict is None:
            return obj
        if verdict.patch:
            if obj is None:
                raise st.internal(f'admission webhook "{name}" returned a patch for a DELETE')
            try:
                return json_patch(obj, verdict.patch)
            except APIStatusError as exc:
                details: Any = exc.body.get("details") or {}
                causes = details.get("causes") or [{}]
                raise st.internal(str(causes[0].get("message", exc))) from exc
        return obj

    def _target(self, hook: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
        """(URL shown in errors, URL dialled, TLS server name, Host header)."""
        cc = hook.get("clientConfig") or {}
        timeout = int(hook.get("timeoutSeconds") or 10)
        if cc.get("url"):
            shown = f"{cc['url']}{'&' if '?' in cc['url'] else '?'}timeout={timeout}s"
            return shown, shown, urlsplit(cc["url"]).hostname or "", None
        svc = cc["service"]
        port = int(svc.get("port") or 443)
        path = svc.get("path") or ""
        host = f"{svc['name']}.{svc['namespace']}.svc"
        shown = f"https://{host}:{port}{path}?timeout={timeout}s"
        address = resolve_service(self.api.store, svc["namespace"], svc["name"], port)
        if address is None:
            raise CallFailed(f'failed to call webhook: Post "{shown}": no endpoints available '
                             f'for service "{svc["name"]}"')
        ip, target_port = address
        return shown, f"https://{ip}:{target_port}{path}?timeout={timeout}s", host, \
            f"{host}:{port}"

    def _ssl(self, hook: Mapping[str, Any]) -> ssl.SSLContext:
        bundle = str((hook.get("clientConfig") or {}).get("caBundle") or "")
        ctx = self._contexts.get(bundle)
        if ctx is None:
            ctx = ssl.create_default_context()
            if bundle:
                try:
                    ctx.load_verify_locations(cadata=base64.b64decode(bundle).decode())
                except (ValueError, ssl.SSLError) as exc:
                    # client-go builds no client for it (rest.TLSConfigFor, rootCertPool)
                    raise CallFailed("could not get REST client: unable to load root "
                                     "certificates: unable to parse bytes as PEM block") from exc
            self._contexts[bundle] = ctx
        return ctx

    async def _post(self, hook: Mapping[str, Any], review: dict[str, Any], *,
                    mutating: bool = True) -> Verdict:
        shown, url, server_name, host = self._target(hook)
        seconds = int(hook.get("timeoutSeconds") or 10)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, force_close=False))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if host:
            headers["Host"] = host
        try:
            async with asyncio.timeout(seconds):
                async with self._session.post(
                    url, json=review, headers=headers, ssl=self._ssl(hook),
                    server_hostname=server_name,
                ) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise CallFailed(
                            f'failed to call webhook: an error on the server '
                            f'("{body[:200].decode(errors="replace")}") has prevented the '
                            f"request from succeeding (status {resp.status})")
        except TimeoutError as exc:
            raise CallFailed(f'failed to call webhook: Post "{shown}": context deadline '
                             "exceeded") from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CallFailed(f'failed to call webhook: Post "{shown}": tls: failed to verify '
                             f"certificate: {exc.certificate_error}") from exc
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise CallFailed(f'failed to call webhook: Post "{shown}": {exc}') from exc
        try:
            return parse_response(body, review["request"]["uid"], mutating=mutating)
        except InvalidResponse as exc:
            raise CallFailed(f"received invalid webhook response: {exc}") from exc


def remaining_timeout(seconds: float) -> str:
    """``?timeout=`` value: the remaining deadline rounded up to whole seconds."""
    return f"{math.ceil(seconds)}s"
