"""``canarist dashboard``: the web dashboard (``webhook.dashboard``)."""

from __future__ import annotations

import argparse

from webhook.cli.common import Subparsers, client_options, kube_flags
from webhook.errors import InvalidInput

DEFAULT_LISTEN = "127.0.0.1:3100"


def register_dashboard(sub: Subparsers) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve the web dashboard: every release live, with weights over time and actions",
        description="Serve the dashboard: the releases of every namespace at once, live, with "
        "a detail page per release (steps, weights over time, pods, routes, analysis, Events) "
        "and the actions promote, promote-full, abort, retry, pause, resume and undo. One "
        "shared cache serves every browser. Also a JSON API under /api/v1/ for scripts "
        "(docs/dashboard.md). Stops on SIGINT/SIGTERM.",
    )
    kube_flags(p, namespace="show only this namespace (default: every namespace)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve on (default {DEFAULT_LISTEN}: this machine only; "
                   "0.0.0.0:3100 in a cluster)")
    p.add_argument("--read-only", action="store_true",
                   help="show no action buttons and refuse every action request (403)")
    p.add_argument("--auth", choices=("none", "token"), default="none",
                   help="none: act with the dashboard's own credentials; token: ask each user "
                   "for a bearer token and read and act with it, so Kubernetes RBAC decides "
                   "(default none)")
    p.add_argument("--proxy-admin-url", metavar="URL",
                   help="admin address of canarist proxy, for request and error rates per "
                   "version (e.g. http://canarist-proxy.canarist-system:9901)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    p.set_defaults(handler=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    import logging
    from urllib.parse import urlsplit

    from webhook.admission.config import parse_listen
    from webhook.dashboard.app import is_loopback
    from webhook.dashboard.serve import run_dashboard
    from webhook.dashboard.state import Options

    host, port = parse_listen(args.listen)
    if args.proxy_admin_url is not None:
        url = urlsplit(args.proxy_admin_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput(f"--proxy-admin-url: must be an http(s) URL, got "
                               f"{args.proxy_admin_url!r}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = Options(read_only=args.read_only, auth=args.auth,
                      proxy_admin_url=args.proxy_admin_url, namespace=args.namespace or "",
                      loopback=is_loopback(host))
    client = client_options(args)
    # the namespace flag narrows what is watched; it is not the client's default namespace
    return run_dashboard(options, client, host, port)
