"""The aiohttp application: ``make_app(options, client_options)``.

Everything long-lived starts in the app's ``cleanup_ctx`` (the API client, the cache's
informers, the proxy poller, the clients acting as users) and stops there, streams first.
Security, in one middleware for every answer (pages, static files, the API, errors):

- ``Content-Security-Policy`` allows only this origin's own scripts, styles and connections
  (no inline script or style, no frames), with ``nosniff``, ``no-referrer`` and
  ``X-Frame-Options: DENY``; the page builds its DOM with ``textContent`` only, so no name,
  annotation or message can become markup;
- bound to a loopback address, only loopback ``Host`` headers are served (a DNS-rebinding page
  cannot read or act through the user's browser);
- actions (``POST``) need the header ``X-Canarist-Request: 1`` (a cross-site form cannot send
  it, and a cross-site script would need a CORS preflight this server never grants), and an
  ``Origin`` or ``Sec-Fetch-Site``, when the browser sends one, from this same host;
- request bodies are bounded (``MAX_BODY``); with ``--auth token`` every API request but
  ``/api/v1/config`` needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from webhook.dashboard.access import AccessCache
from webhook.dashboard.cache import ReleaseCache
from webhook.dashboard.rates import RatesPoller
from webhook.dashboard.state import Dashboard, Options
from webhook.errors import CanaristError
from webhook.kube.client import connect
from webhook.kube.config import ClientOptions
from webhook.kube.users import UserClients, check_token

DASHBOARD = web.AppKey("canarist_dashboard", Dashboard)
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 16 * 1024
REQUEST_HEADER = "X-Canarist-Request"
TOKEN = "canarist_token"  # request key of the caller's bearer token (token auth)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str) -> bool:
    """A loopback ``Host`` (any port): what a browser sends for a page it got from here."""
    host = urlsplit("//" + host_header).hostname or ""
    return host in LOOPBACK_NAMES or is_loopback(host)


def same_origin(request: web.Request) -> str:
    """Why a state-changing request does not come from this page, or ""."""
    if request.headers.get(REQUEST_HEADER) != "1":
        return f"missing header {REQUEST_HEADER}: 1"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request (Sec-Fetch-Site: {site})"
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        return "cross-origin request (Origin does not match Host)"
    return ""


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status,
                             headers={"Cache-Control": "no-store"})


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    try:
        if dashboard.options.loopback and not host_allowed(request.host):
            return error(421, "this dashboard answers only to localhost")
        if request.method not in ("GET", "HEAD") and (why := same_origin(request)):
            return error(403, f"refused: {why}")
        api = request.path.startswith("/api/") and request.path != "/api/v1/config"
        if api and dashboard.options.auth == "token":
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return error(401, "a bearer token is required (Authorization: Bearer ...)")
            try:
                request[TOKEN] = check_token(token.strip())
            except CanaristError as exc:
                return error(401, str(exc))
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 413:
            return error(413, f"request body larger than {MAX_BODY} bytes")
        raise


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    elif request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")


def make_app(options: Options, client_options: ClientOptions) -> web.Application:
    from webhook.dashboard import api, stream

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        client = connect(client_options)
        cache = ReleaseCache(client, namespace=options.namespace)
        dashboard = Dashboard(options, client, cache)
        if options.auth == "token":
            dashboard.users = UserClients(client.sync.rest.connection)
            dashboard.access = AccessCache(dashboard.users)
        if options.proxy_admin_url:
            dashboard.rates = RatesPoller(options.proxy_admin_url,
                                          interval=options.rates_interval)
            dashboard.rates.start()
        app[DASHBOARD] = dashboard
        await cache.start(within=0)  # pages say "syncing" until the first lists are in
        try:
            yield
        finally:
            dashboard.closing = True
            await cache.wake_all()
            if dashboard.rates is not None:
                await dashboard.rates.stop()
            await cache.stop()
            if dashboard.users is not None:
                await dashboard.users.aclose()
            await client.aclose()

    async def closing(app: web.Application) -> None:
        dashboard = app[DASHBOARD]
        dashboard.closing = True
        await dashboard.cache.wake_all()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(closing)
    app.on_response_prepare.append(_headers)
    api.add_routes(app)
    stream.add_routes(app)
    app.router.add_static("/static/", STATIC)
    return app
