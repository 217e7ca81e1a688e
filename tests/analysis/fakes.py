"""Small HTTP servers on 127.0.0.1 that answer like Prometheus, Datadog and a web endpoint.

Each keeps what it was asked (the received requests) and answers from a table the test fills.
Special answers: ``SLOW`` (sleeps past any short timeout), ``GARBAGE`` (an HTML 502 page, as a
load balancer in front would send), ``HUGE`` (a body over the providers' 1 MiB limit).
"""

from __future__ import annotations

import asyncio
import json
import math
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLOW = "slow"
GARBAGE = "garbage"
HUGE = "huge"
NOT_JSON_200 = "not-json-200"


@asynccontextmanager
async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None
                ) -> AsyncIterator[str]:
    """Run ``app`` on an ephemeral loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _special(kind: Any) -> web.Response | None:
    if kind == SLOW:
        await asyncio.sleep(5)
        return web.json_response({})
    if kind == GARBAGE:
        return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>",
                            content_type="text/html")
    if kind == NOT_JSON_200:
        return web.Response(text="<html>login</html>", content_type="text/html")
    if kind == HUGE:
        return web.Response(body=b"[" + b"1," * (1 << 20) + b"1]", content_type="application/json")
    return None


@dataclass
class FakePrometheus:
    """``/api/v1/query`` (GET or POST form). ``results[query]`` is a float (one series), a list
    of floats (one series each), ``("scalar", v)``, ``("matrix",)``, ``("error", status,
    errorType, message)`` or a special answer. Unknown queries get Prometheus' 400 bad_data."""

    results: dict[str, Any] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, query)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/api/v1/query", self.query)
        app.router.add_route("POST", "/api/v1/query", self.query)
        return app

    async def query(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        query = str(form.get("query", ""))
        self.seen.append((request.method, query))
        if not query:
            return _prom_error(400, "bad_data", 'invalid parameter "query": 1:1: parse error: '
                                                "no expression found in input")
        if query not in self.results:
            return _prom_error(400, "bad_data", f'1:1: parse error: unknown query "{query}"')
        answer = self.results[query]
        special = await _special(answer)
        if special is not None:
            return special
        now = 1767322800.0
        if isinstance(answer, tuple) and answer[0] == "error":
            return _prom_error(answer[1], answer[2], answer[3])
        if isinstance(answer, tuple) and answer[0] == "scalar":
            data: dict[str, Any] = {"resultType": "scalar", "result": [now, str(answer[1])]}
        elif isinstance(answer, tuple) and answer[0] == "matrix":
            data = {"resultType": "matrix",
                    "result": [{"metric": {}, "values": [[now, "1"], [now + 15, "2"]]}]}
        else:
            values = answer if isinstance(answer, list) else [answer]
            data = {"resultType": "vector", "result": [
                {"metric": {"version": "canary", "pod": f"web-{i}"}, "value": [now, _prom(v)]}
                for i, v in enumerate(values)
            ]}
        return web.json_response({"status": "success", "data": data})


def _prom(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _prom_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"status": "error", "errorType": kind, "error": message},
                             status=status)


@dataclass
class FakeDatadog:
    """v1 ``GET /api/v1/query?from=&to=&query=`` with ``DD-API-KEY``/``DD-APPLICATION-KEY``.
    ``results[query]`` is a list of pointlists (one series each) or a special answer."""

    api_key: str = "api-123"
    app_key: str = "app-456"
    results: dict[str, Any] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/query", self.query)
        return app

    async def query(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.query))
        if (request.headers.get("DD-API-KEY") != self.api_key
                or request.headers.get("DD-APPLICATION-KEY") != self.app_key):
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        missing = [k for k in ("from", "to", "query") if k not in request.query]
        if missing:
            return web.json_response({"errors": [f"The value provided for parameter "
                                                 f"'{missing[0]}' is invalid"]}, status=400)
        query = request.query["query"]
        answer = self.results.get(query)
        if answer is None:
            return web.json_response({"status": "error", "res_type": "time_series",
                                      "series": [], "error": f"Error parsing query: {query}"},
                                     status=400)
        special = await _special(answer)
        if special is not None:
            return special
        start, end = int(request.query["from"]), int(request.query["to"])
        return web.json_response({
            "status": "ok", "res_type": "time_series", "query": query,
            "from_date": start * 1000, "to_date": end * 1000,
            "series": [{"metric": query, "scope": "*", "interval": 20, "length": len(points),
                        "pointlist": points} for points in answer],
        })


@dataclass
class FakeWeb:
    """Any path: answers ``answer`` (JSON-encoded unless special) with ``status``."""

    answer: Any = None
    status: int = 200
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # client (host, port) of each request

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append((request.method, request.path_qs, dict(request.headers), body))
        self.peers.append(request.transport.get_extra_info("peername") if request.transport
                          else None)
        special = await _special(self.answer)
        if special is not None:
            return special
        return web.Response(status=self.status, text=json.dumps(self.answer),
                            content_type="application/json")
