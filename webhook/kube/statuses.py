"""API errors mapped once into ``webhook.errors``: a pure function of the HTTP status and body.

Every non-2xx answer of the API server carries a ``metav1.Status`` (k8s-semantics §3.9); its
``message`` becomes the error's message, its ``reason`` the error's reason and, for refused
objects, ``details.causes`` become ``Invalid.causes`` (field path + message each). A body that
is not a Status (a proxy's HTML page, an empty body) still maps by HTTP code, with a message
saying what was asked.

| HTTP | error | retried |
|---|---|---|
| 400, 405, 413, 415, 422 | ``Invalid`` | no |
| 401, 403 | ``Forbidden`` | no |
| 404 | ``NotFound`` | no |
| 409 | ``Conflict`` (reason ``Conflict`` or ``AlreadyExists``) | no: the caller re-reads |
| 410 | ``Expired`` | no: watchers list again |
| 429, 500, 502, 503, 504 (any 5xx) | ``Unavailable`` | yes, with backoff |
| anything else | ``KubeError`` | no |
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook.errors import (
    Conflict,
    Expired,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    Problem,
    Unavailable,
)

_BY_CODE: dict[int, type[KubeError]] = {
    400: Invalid,
    401: Forbidden,
    403: Forbidden,
    404: NotFound,
    405: Invalid,
    409: Conflict,
    410: Expired,
    413: Invalid,
    415: Invalid,
    422: Invalid,
    429: Unavailable,
}


@dataclass(frozen=True)
class StatusBody:
    """What a ``metav1.Status`` says (empty fields when the body is not one)."""

    message: str = ""
    reason: str = ""
    causes: tuple[Problem, ...] = ()
    retry_after: float | None = None


def parse_status(body: bytes) -> StatusBody:
    """Lenient: anything that is not a JSON Status reads as an empty ``StatusBody``."""
    try:
        doc = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return StatusBody()
    if not isinstance(doc, Mapping) or doc.get("kind") != "Status":
        return StatusBody()
    details = doc.get("details")
    details = details if isinstance(details, Mapping) else {}
    retry = details.get("retryAfterSeconds")
    return StatusBody(
        message=_text(doc.get("message")),
        reason=_text(doc.get("reason")),
        causes=tuple(_causes(details.get("causes"))),
        retry_after=float(retry) if isinstance(retry, int | float) and retry > 0 else None,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _causes(raw: Any) -> list[Problem]:
    if not isinstance(raw, list):
        return []
    out = []
    for cause in raw:
        if isinstance(cause, Mapping):
            out.append(Problem(_text(cause.get("field")), _text(cause.get("message"))))
    return out


def error_class(code: int) -> type[KubeError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    return Unavailable if code >= 500 else KubeError


def error_for(code: int, body: bytes, *, asked: str) -> KubeError:
    """The error for a non-2xx answer to ``asked`` (e.g. ``GET /api/v1/...``)."""
    status = parse_status(body)
    message = status.message or _fallback(code, body, asked)
    cls = error_class(code)
    if cls is Invalid:
        return Invalid(message, status=code, reason=status.reason, causes=status.causes)
    return cls(message, status=code, reason=status.reason)


def _fallback(code: int, body: bytes, asked: str) -> str:
    snippet = body[:200].decode("utf-8", "replace").strip()
    tail = f": {snippet}" if snippet else ""
    return f"HTTP {code} from the API server for {asked}{tail}"


def retry_after(header: str | None, body: bytes) -> float | None:
    """Seconds the server asked us to wait: the ``Retry-After`` header (seconds form), else the
    Status' ``details.retryAfterSeconds``."""
    if header:
        try:
            seconds = float(header.strip())
        except ValueError:
            seconds = 0.0
        if seconds > 0:
            return seconds
    return parse_status(body).retry_after
