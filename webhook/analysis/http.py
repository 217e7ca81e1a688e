"""One HTTP exchange for a provider: bounded time, bounded body, every failure a clear message.

Providers share one aiohttp ``ClientSession`` (owned by ``Measurer``). Transport failures,
timeouts and oversized bodies become ``MeasurementError``; HTTP error statuses are returned as
``Answer`` so each provider can read its own error body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from webhook.errors import MeasurementError

MAX_BODY = 1 << 20  # a metric answer is small; anything larger is refused
CONNECT_TIMEOUT = 5.0
USER_AGENT = "canarist-analysis"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    what: str  # "prometheus http://prom:9090", for messages

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise MeasurementError(
                f"{self.what}: answer is not JSON (HTTP {self.status}): {self.snippet()}"
            ) from None

    def json_or_none(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def snippet(self, limit: int = 120) -> str:
        text = " ".join(self.body.decode("utf-8", "replace").split())
        if not text:
            return "(empty body)"
        return repr(text if len(text) <= limit else text[: limit - 1] + "…")

    def status_error(self, detail: str = "") -> MeasurementError:
        return MeasurementError(f"{self.what}: HTTP {self.status}: {detail or self.snippet()}")


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    data: Any = None,
) -> Answer:
    limits = aiohttp.ClientTimeout(total=seconds, connect=min(CONNECT_TIMEOUT, seconds))
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    try:
        async with session.request(
            method, url, headers=sent, params=params, data=data, timeout=limits
        ) as response:
            body = await _read_bounded(response, what)
            return Answer(response.status, body, what)
    except TimeoutError:
        raise MeasurementError(f"{what}: no answer within {seconds:g}s") from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or str(exc.os_error)
        where = f"{exc.host}:{exc.port}"
        raise MeasurementError(f"{what}: cannot connect to {where}: {reason}") from None
    except aiohttp.InvalidURL as exc:
        raise MeasurementError(f"{what}: invalid URL {str(exc.url)!r}") from None
    except aiohttp.ClientError as exc:
        raise MeasurementError(f"{what}: {type(exc).__name__}: {exc}") from None
    except (ValueError, OSError) as exc:  # malformed header values, sockets closing under us
        raise MeasurementError(f"{what}: {type(exc).__name__}: {exc}") from None


async def _read_bounded(response: aiohttp.ClientResponse, what: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > MAX_BODY:
        raise MeasurementError(f"{what}: answer of {declared} bytes is over the {MAX_BODY} limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise MeasurementError(f"{what}: answer is over the {MAX_BODY} bytes limit")
        chunks.append(chunk)
    return b"".join(chunks)


def new_session(ssl: Any = True) -> aiohttp.ClientSession:
    """The shared session: small keep-alive pool, no cookies kept between measurements."""
    connector = aiohttp.TCPConnector(limit=32, ssl=ssl)
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False
    )


def shown_url(url: str) -> str:
    """A URL for messages: no user:password, no query string (either may hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
