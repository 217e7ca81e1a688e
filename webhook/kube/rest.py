"""HTTP to the API server through the official client's REST layer, as raw JSON bytes.

``Rest`` is synchronous and thread-safe. It uses ``kubernetes.client.ApiClient`` for what the
official client is good at (kubeconfig auth plugins, token refresh, TLS, the urllib3 connection
pool) and skips its typed models: bodies go out as dicts and come back as bytes for
``json.loads`` (k8s-semantics §7: a typed ``V1Deployment`` costs ~20x a ``json.loads``).

``call`` is one logical request: it waits for a token of the client-side rate limit, sends,
and retries ``Unavailable`` answers (429, 5xx, timeouts, connection failures) with exponential
backoff and jitter, honouring ``Retry-After``; every other non-2xx answer raises its
``webhook.errors`` class at once (``statuses``). A 409 is never retried here: the caller must
re-read. ``stream`` opens a watch and hands back the open response. ``close`` wakes any
backoff sleep so a shutdown never waits for a retry.

Writes are retried too (a POST whose answer was lost comes back as ``Conflict``
``AlreadyExists``, which the caller handles like any other conflict).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from webhook import __version__
from webhook.errors import KubeError, Unavailable
from webhook.kube import warnings
from webhook.kube.config import Connection
from webhook.kube.limits import Backoff, TokenBucket
from webhook.kube.statuses import error_for, retry_after

log = logging.getLogger("canarist.kube")
_WARNING = re.compile(r'^\s*\d{3}\s+\S+\s+"(?P<text>(?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")

JSON_CT = "application/json"
PATCH_CT = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    body: Any = None
    content_type: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Reply:
    status: int
    data: bytes
    retry_after: str | None = None

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


class Rest:
    def __init__(
        self,
        connection: Connection,
        *,
        backoff: Backoff | None = None,
        bucket: TokenBucket | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        opts = connection.options
        self.connection = connection
        self.api = ApiClient(connection.configuration)
        self.api.user_agent = f"{opts.user_agent}/{__version__}"
        self.backoff = backoff or Backoff()
        self.bucket = bucket or TokenBucket(opts.qps, opts.burst)
        self.timeout = opts.timeout
        self.stats: Counter[tuple[str, int]] = Counter()  # (method, HTTP status or 0) -> count
        self._rand = rand
        self._closed = threading.Event()
        self._stats_lock = threading.Lock()

    @property
    def host(self) -> str:
        return str(self.connection.configuration.host)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        self.api.rest_client.close()

    # --- one request ---------------------------------------------------------------------------

    def call(self, req: Request) -> Reply:
        """Send with the rate limit and retries; a 2xx ``Reply`` or a ``KubeError``."""
        attempts = max(1, self.backoff.attempts)
        for attempt in range(attempts):
            self.bucket.wait(self._sleep)
            try:
                reply = self.send(req)
            except Unavailable as exc:
                err: KubeError = exc
                hint = None
            else:
                if 200 <= reply.status < 300:
                    return reply
                err = error_for(reply.status, reply.data, asked=str(req))
                if not isinstance(err, Unavailable):
                    raise err
                hint = retry_after(reply.retry_after, reply.data)
            if attempt + 1 >= attempts or self.closed:
                raise err
            delay = self.backoff.delay(attempt, server_hint=hint, rand=self._rand)
            log.debug("%s: %s; retry %d in %.2fs", req, err, attempt + 1, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, req: Request, *, timeout: Any = None) -> Reply:
        """One attempt, no retry; transport failures raise ``Unavailable``."""
        resp = self._open(req, timeout if timeout is not None else self.timeout)
        try:
            data = resp.read()
        except urllib3.exceptions.HTTPError as exc:
            self._count(req.method, 0)
            raise Unavailable(f"{req}: reading the answer failed: {exc}") from exc
        self._count(req.method, resp.status)
        self._warnings(req, resp.headers)
        return Reply(resp.status, bytes(data or b""), resp.headers.get("Retry-After"))

    def stream(self, req: Request, *, read_timeout: float) -> Any:
        """Open a watch; the open ``urllib3.HTTPResponse`` on 200, else the mapped error."""
        self.bucket.wait(self._sleep)
        resp = self._open(req, (min(self.timeout, 10.0), read_timeout))
        self._count(req.method, resp.status)
        if resp.status != 200:
            data = resp.read()
            raise error_for(resp.status, bytes(data or b""), asked=str(req))
        return resp.response

    # --- plumbing -----------------------------------------------------------------------------

    def _open(self, req: Request, timeout: Any) -> Any:
        headers = {"Accept": JSON_CT}
        if req.body is not None:
            headers["Content-Type"] = req.content_type or JSON_CT
        method, url, headers, _, _ = self.api.param_serialize(
            req.method,
            req.path,
            query_params=list(req.query) or None,
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api.rest_client.request(  # type: ignore[no-untyped-call]
                method, url, headers=headers, body=req.body, _request_timeout=timeout
            )
        except ApiException as exc:  # the REST layer's wrapping of TLS failures
            self._count(req.method, 0)
            raise KubeError(f"{req} to {self.host}: {exc.reason or exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._count(req.method, 0)
            raise Unavailable(f"{req} to {self.host}: {_describe(exc)}") from exc

    def _sleep(self, seconds: float) -> None:
        self._closed.wait(seconds)

    def _count(self, method: str, status: int) -> None:
        with self._stats_lock:
            self.stats[(method, status)] += 1

    def _warnings(self, req: Request, headers: Mapping[str, str] | Any) -> None:
        getall = getattr(headers, "getlist", None)
        values = getall("Warning") if getall else []
        for value in values:
            m = _WARNING.match(value)
            text = _UNESCAPE.sub(r"\1", m.group("text")) if m else value
            log.warning("API server: %s", text)
            warnings.report(f"{req}: {text}")

    def writes(self) -> int:
        """Write requests answered so far (any status): the figure reconcile budgets count."""
        with self._stats_lock:
            return sum(n for (m, _), n in self.stats.items() if m not in ("GET", "HEAD"))


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return f"{type(exc).__name__}: {exc}"
