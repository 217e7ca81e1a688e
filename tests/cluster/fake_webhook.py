"""A small admission webhook for the admission-chain tests: real HTTPS (trustme), scripted
answers, and a record of every AdmissionReview it received."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import trustme
from aiohttp import web

from webhook.cluster.runtime import RunningCluster

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def allow(patch: list[dict[str, Any]] | None = None, warnings: list[str] | None = None
          ) -> Answer:
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        resp: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        if patch is not None:
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        if warnings:
            resp["warnings"] = warnings
        return resp
    return answer


def deny(message: str, code: int = 403) -> Answer:
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        return {"uid": request["uid"], "allowed": False,
                "status": {"code": code, "message": message, "reason": "Forbidden"}}
    return answer


class FakeWebhook:
    """An HTTPS server on 127.0.0.1 (ephemeral port) running on the cluster's event loop."""

    def __init__(self, cluster: RunningCluster, ca: trustme.CA, *names: str) -> None:
        self.cluster = cluster
        self.ca = ca
        self.cert = ca.issue_cert(*names)
        self.answer: Answer = allow()
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.queries: list[str] = []
        self.spans: list[tuple[float, float]] = []  # (received, answered), monotonic
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca.cert_pem.bytes()).decode()

    async def _handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        began = time.monotonic()
        self.received.append(review["request"])
        self.queries.append(request.query_string)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.spans.append((began, time.monotonic()))
        return web.json_response({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                  "response": self.answer(review["request"])})

    async def _start(self) -> None:
        import ssl

        app = web.Application()
        app.router.add_post("/mutate", self._handle)
        app.router.add_post("/validate", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> FakeWebhook:
        self.cluster.call(self._start())
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self.cluster.call(self._runner.cleanup())
