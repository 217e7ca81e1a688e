"""``web``: any HTTP endpoint answering JSON; ``jsonPath`` (``$.a.b[0]``) picks the number.

Method, headers and body as configured; ``timeoutSeconds`` bounds the exchange. A non-2xx
status, a body that is not JSON, a path that does not resolve and a value that is not a number
(strings that parse as numbers and booleans, as 1/0, are accepted) are errors.

A body without a ``Content-Type`` header is sent as ``application/json`` when it parses as JSON,
else as ``text/plain``. Messages show the URL without its query string (it may hold a token).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from webhook.analysis.http import exchange, shown_url
from webhook.analysis.providers.base import MeasureContext
from webhook.analysis.values import select, to_number
from webhook.spec import Metric, WebProvider


def request_headers(provider: WebProvider) -> dict[str, str]:
    headers = dict(provider.headers)
    if provider.body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = (
            "application/json" if _is_json(provider.body) else "text/plain; charset=utf-8"
        )
    return headers


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def web_value(body: Any, json_path: str) -> float:
    """The number at ``json_path`` in a parsed JSON ``body``."""
    return to_number(select(body, json_path), f"web: {json_path}")


class WebSource:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def measure(self, metric: Metric, context: MeasureContext) -> float:
        provider = metric.provider
        assert isinstance(provider, WebProvider)
        answer = await exchange(
            self.session,
            provider.method,
            provider.url,
            what=f"web {shown_url(provider.url)}",
            seconds=provider.timeout,
            headers=request_headers(provider),
            data=provider.body.encode("utf-8") if provider.body is not None else None,
        )
        if not answer.ok:
            raise answer.status_error()
        return web_value(answer.json(), provider.json_path)
