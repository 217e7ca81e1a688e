"""The HTTPS API server: authentication, impersonation and authorization of every request
(``webhook.cluster.auth``), discovery, OpenAPI and the resource routes."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from webhook.cluster import status as st
from webhook.cluster.api import ClusterAPI
from webhook.cluster.auth.impersonation import ImpersonationError
from webhook.cluster.auth.tokens import TokenError
from webhook.cluster.auth.user import ADMIN_USER
from webhook.cluster.http import discovery, openapi
from webhook.cluster.http.handlers import (
    USER_KEY,
    ResourceHandlers,
    json_response,
    status_response,
)
from webhook.cluster.http.paths import parse_path
from webhook.cluster.pki import Credentials
from webhook.errors import APIStatusError

log = logging.getLogger(__name__)
_PUBLIC = ("/healthz", "/livez", "/readyz", "/version")


class APIServer:
    def __init__(self, api: ClusterAPI, creds: Credentials, *, host: str = "127.0.0.1",
                 port: int = 0, extra_hosts: tuple[str, ...] = ()) -> None:
        self.api = api
        self.creds = creds
        self.host = host
        self.port = port
        self.extra_hosts = extra_hosts  # also served on these (the node's address, for pods)
        self.resources = ResourceHandlers(api)
        api.auth.authenticator.add_static_token(creds.token, ADMIN_USER)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._route)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        ssl_context = self.creds.server_context()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        for host in self.extra_hosts:
            try:
                await web.TCPSite(self._runner, host, self.port,
                                  ssl_context=ssl_context).start()
            except OSError as exc:
                log.warning("API server not served on %s:%s (pods cannot reach it there): %s",
                            host, self.port, exc)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            resp: web.StreamResponse = await handler(request)
            return resp
        except APIStatusError as exc:
            return status_response(exc)
        except web.HTTPException:
            raise
        except Exception as exc:  # the API answers every failure with a Status
            log.exception("request %s %s failed", request.method, request.path)
            return status_response(st.internal(f"{type(exc).__name__}: {exc}"))

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path not in _PUBLIC:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return json_response(st.unauthorized(), 401)
            try:
                request[USER_KEY] = self.api.auth.check(
                    token.strip(), request.method, request.path, request.query,
                    request.headers.items())
            except TokenError:
                return json_response(st.unauthorized(), 401)
            except ImpersonationError as exc:
                return web.Response(status=500, text=f'Internal Server Error: '
                                                     f'"{request.path_qs}": {exc}')
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        info = parse_path(path)
        if info is not None:
            return await self.resources.handle(request, info)
        if request.method != "GET":
            raise st.err(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource")
        return self._non_resource(request, path)

    def _non_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        reg = self.api.registry
        accept = request.headers.get("Accept", "")
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/version":
            return json_response(discovery.VERSION_INFO)
        if path == "/.well-known/openid-configuration":
            return json_response(self.api.auth.openid_configuration(self.url))
        if path == "/openid/v1/jwks":
            return json_response(self.api.auth.signer().jwks())
        if path in ("/api", "/apis") and discovery.wants_aggregated(accept):
            doc = discovery.aggregated(reg, core=path == "/api")
            resp = json_response(doc)
            resp.content_type = "application/json"
            resp.headers["Content-Type"] = discovery.AGGREGATED_CT
            return resp
        if path == "/api":
            return json_response(discovery.api_versions(f"{self.host}:{self.port}"))
        if path == "/apis":
            return json_response(discovery.group_list(reg))
        if path == "/openapi/v3":
            return json_response(openapi.root(reg))
        parts = path.strip("/").split("/")
        found: dict[str, Any] | None = None
        if parts[0] == "api" and len(parts) == 2:
            found = discovery.resource_list(reg, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            found = discovery.group_doc(reg, parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            found = discovery.resource_list(reg, parts[1], parts[2])
        elif parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group, version = ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4])
            rts = openapi.group_versions(reg).get((group, version))
            if rts and (len(parts) == 4) == (parts[2] == "api"):
                found = openapi.gv_document(group, version, rts)
        if found is None:
            raise st.err(404, "NotFound", "the server could not find the requested resource")
        return json_response(found)
