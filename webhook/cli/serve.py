"""The long-running programs: ``proxy``, ``webhook``, ``up`` and ``demo``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from webhook.cli.common import (
    EXIT_OK,
    Subparsers,
    client_options,
    context_flag,
    integer_arg,
    kubeconfig_flag,
    namespace_flag,
    number_arg,
    policy_configmap,
    policy_file,
    policy_flags,
    split_names,
)
from webhook.cli.tools import start_cert_keeper, webhook_cert_flags

if TYPE_CHECKING:
    from webhook.admission.server import Follower
    from webhook.policy import PolicySet

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def register_proxy(sub: Subparsers) -> None:
    p = sub.add_parser(
        "proxy",
        help="run the sidecar-free canary proxy",
        description="Serve HTTP traffic split between stable and canary by a route table: "
        "exact weights, header routes, sticky canary, mirroring, per-version metrics.",
    )
    p.add_argument("--listen", default="0.0.0.0:8080", metavar="HOST:PORT",
                   help="address to serve traffic on (default 0.0.0.0:8080)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--routes", metavar="FILE", help="routes file (YAML or JSON), reloaded on "
                     "change and on SIGHUP")
    kubeconfig_flag(src, "cluster mode: routes from the route-table ConfigMaps, endpoints from "
                         "EndpointSlices")
    src.add_argument("--cluster", action="store_true", help="cluster mode with the default "
                     "kubeconfig ($KUBECONFIG, ~/.kube/config, else in-cluster)")
    context_flag(p, "cluster mode: kubeconfig context to use")
    namespace_flag(p, "cluster mode: namespace to follow, or 'all' for every namespace "
                      "(default: the context's, else default)")
    p.add_argument("--workers", type=integer_arg, default=1, metavar="N",
                   help="worker processes sharing the port with SO_REUSEPORT (default 1)")
    p.add_argument("--admin-listen", metavar="HOST:PORT",
                   help="serve /metrics, /summary and /healthz here (default: off)")
    p.add_argument("--no-version-header", action="store_true",
                   help="do not add x-canarist-version to responses")
    p.add_argument("--connect-timeout", type=number_arg, default=5.0, metavar="SECONDS")
    p.add_argument("--upstream-timeout", type=number_arg, default=60.0, metavar="SECONDS",
                   help="longest wait for an upstream's response headers (then 504)")
    p.add_argument("--keepalive-timeout", type=number_arg, default=75.0, metavar="SECONDS")
    p.add_argument("--drain-timeout", type=number_arg, default=30.0, metavar="SECONDS",
                   help="on SIGTERM, longest wait for requests in flight")
    p.add_argument("--mirror-timeout", type=number_arg, default=2.0, metavar="SECONDS")
    p.add_argument("--mirror-queue", type=integer_arg, default=1024, metavar="N",
                   help="mirrored copies waiting to be sent; more are dropped and counted")
    p.add_argument("--mirror-max-body", type=integer_arg, default=1 << 20, metavar="BYTES",
                   help="requests with larger bodies are not mirrored (counted as dropped)")
    p.add_argument("--window", type=integer_arg, default=60, metavar="SECONDS",
                   help="sliding window of the /summary endpoint")
    p.add_argument("--header-timeout", type=number_arg, default=20.0, metavar="SECONDS",
                   help="a request head must arrive whole within this, else the connection is "
                   "closed (408 if part of it came; default 20)")
    p.add_argument("--max-uri-bytes", type=integer_arg, default=8192, metavar="BYTES",
                   help="longest request target; longer: 414 (default 8192)")
    p.add_argument("--max-field-bytes", type=integer_arg, default=8192, metavar="BYTES",
                   help="longest header field, name and value; longer: 431 (default 8192)")
    p.add_argument("--max-fields", type=integer_arg, default=100, metavar="N",
                   help="most header fields in a request; more: 431 (default 100)")
    p.add_argument("--max-head-bytes", type=integer_arg, default=32768, metavar="BYTES",
                   help="largest request head, request line to blank line; larger: 431 "
                   "(default 32768)")
    p.add_argument("--max-response-head-bytes", type=int, default=32768, metavar="BYTES",
                   help="largest response head an upstream may send, status line to blank "
                   "line; larger: 502 (default 32768)")
    p.add_argument("--max-response-field-bytes", type=int, default=8192, metavar="BYTES",
                   help="longest line (status line or header field) of an upstream's response "
                   "head; longer: 502 (default 8192)")
    p.add_argument("--trusted-proxies", action="append", default=[], metavar="CIDR[,CIDR...]",
                   help="peers whose X-Forwarded-For/-Host/-Proto, X-Real-IP and Forwarded are "
                   "kept (X-Forwarded-For appended to, Forwarded extended); repeatable; default: "
                   "none, the proxy sets them itself")
    p.set_defaults(handler=cmd_proxy)


def cmd_proxy(args: argparse.Namespace) -> int:
    import logging

    from webhook.proxy.runner import config_from_args, run

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return run(config_from_args(args))


def register_webhook(sub: Subparsers) -> None:
    p = sub.add_parser(
        "webhook",
        help="run the admission webhook (HTTPS)",
        description="Serve /mutate (AdmissionReview v1), /healthz, /readyz and /metrics over "
        "TLS 1.2+. Certificate and key are reloaded when their files change; SIGTERM drains. "
        "In a cluster, --cert-secret keeps the certificates in a Secret instead of files.",
    )
    p.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain)")
    p.add_argument("--tls-key", metavar="FILE", help="PEM private key")
    p.add_argument("--listen", default="0.0.0.0:8443", metavar="HOST:PORT",
                   help="address to serve on (default 0.0.0.0:8443)")
    p.add_argument("--drain-seconds", type=number_arg, default=2.0, metavar="SECONDS",
                   help="after SIGTERM, keep answering (closing every connection) this long "
                   "before the listener stops (default 2)")
    p.add_argument("--reload-interval", type=number_arg, default=2.0, metavar="SECONDS",
                   help="how often the certificate files are checked for changes (default 2)")
    p.add_argument("--trusted-user", action="append", default=[], metavar="NAME",
                   help="the user name of the reconciler (e.g. system:serviceaccount:canarist:"
                   "canarist-reconciler), the only writer allowed to change canarist.io/status; "
                   "repeatable or comma-separated (default: none, the status is not protected)")
    p.add_argument("--header-timeout", type=number_arg, default=10.0, metavar="SECONDS",
                   help="close a connection that does not send a whole request head in this "
                   "time, like nginx's client_header_timeout (default 10)")
    p.add_argument("--spec-cache-bytes", type=integer_arg, default=16 << 20, metavar="BYTES",
                   help="memory for parsed canary annotations, counted by their size "
                   "(default 16777216)")
    p.add_argument("--review-workers", type=integer_arg, default=2, metavar="N",
                   help="threads deciding reviews that are not cheap: annotations not seen "
                   "before, bodies over 64 KiB (default 2)")
    p.add_argument("--review-budget", type=number_arg, default=2.0, metavar="SECONDS",
                   help="time one review may take from its arrival; a YAML parse past it is "
                   "stopped and the review denied (default 2)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    policy_flags(p, follow_help="follow the cluster policies in this ConfigMap (key "
                 "policies.yaml, or KEY) through the API, as the Helm chart does: a change applies "
                 "within seconds; /readyz waits for the first document")
    webhook_cert_flags(p)
    p.set_defaults(handler=cmd_webhook)


def cmd_webhook(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from webhook.admission.config import ServerConfig, check_limits, parse_listen
    from webhook.admission.jsonlog import configure
    from webhook.admission.server import run

    host, port = parse_listen(args.listen)
    trusted = split_names(args.trusted_user)
    config = ServerConfig(
        args.tls_cert, args.tls_key, host, port, drain_seconds=args.drain_seconds,
        reload_interval=args.reload_interval, header_timeout=args.header_timeout,
        spec_cache_bytes=args.spec_cache_bytes, review_workers=args.review_workers,
        review_budget=args.review_budget, trusted_users=frozenset(trusted) if trusted else None)
    check_limits(config)
    policies = policy_file(args) if args.policy else None
    follow = policy_follower(args, policies)
    configure(args.log_level)
    cert, key, stop = start_cert_keeper(args)
    try:
        run(replace(config, cert_path=cert, key_path=key, policies=policies), follow)
    finally:
        stop.set()
    return EXIT_OK


def policy_follower(args: argparse.Namespace, policies: PolicySet | None) -> Follower | None:
    """What keeps the webhook's policies current: the ConfigMap of --policy-configmap, or the
    Namespaces' labels a file's policies select by; ``None`` when nothing needs the API."""
    from webhook.kube.policyfeed import following

    ref = policy_configmap(args)
    if ref is None and (policies is None or not policies.needs_namespace_labels):
        return None
    options = client_options(args)
    return lambda store: following(options, store, ref)


def register_up(sub: Subparsers) -> None:
    p = sub.add_parser(
        "up",
        help="run the embedded cluster (API server, controllers, kubelet, webhook, proxy, "
        "reconciler)",
        description="Start an in-process Kubernetes API server on 127.0.0.1 with its "
        "components: gc (garbage collector), controllers (Deployment, ReplicaSet, "
        "EndpointSlice), kubelet (pods as local HTTP servers), webhook (canarist's admission "
        "webhook), proxy (canarist proxy in cluster mode, for Deployments with router proxy) "
        "and reconciler (canarist's release reconciler, reading the proxy's admin endpoint for "
        "the builtin analysis provider); write a kubeconfig; print one line with the API "
        "address, the kubeconfig path and the proxy's addresses when ready; stop on "
        "SIGINT/SIGTERM.",
    )
    # Not the cluster flag: here --kubeconfig is where the embedded cluster writes its own.
    p.add_argument("--kubeconfig", metavar="PATH",
                   help="where to write the kubeconfig (default ~/.canarist/kubeconfig)")
    p.add_argument("--port", type=integer_arg, default=0, metavar="N",
                   help="API server port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--without", action="append", default=[], metavar="COMPONENT",
                   help="leave a component out (gc, controllers, kubelet, webhook, proxy, "
                   "reconciler); repeatable or comma-separated")
    p.add_argument("--proxy-listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where the proxy serves traffic (default 127.0.0.1:0: any free port, "
                   "printed on the ready line)")
    p.add_argument("--proxy-admin-listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="the proxy's /metrics and /summary, which the reconciler's builtin "
                   "analysis provider reads (default 127.0.0.1:0: any free port)")
    p.add_argument("--image", action="append", default=[], metavar="REPO",
                   help="another image repository whose containers run as canarist processes "
                   "(besides ghcr.io/canarist/canarist), e.g. a locally built "
                   "registry.example.com/canarist; repeatable or comma-separated")
    policy_flags(p, follow=False, policy_help="cluster policies (a policies: list; "
                 "docs/policy.md) for the webhook and the reconciler, with webhook entries for "
                 "their namespaces")
    p.set_defaults(handler=cmd_up)


def cmd_up(args: argparse.Namespace) -> int:
    import logging

    from webhook.cluster.proxy_component import ProxySettings
    from webhook.cluster.up import run_up
    from webhook.proxy.runner import parse_listen

    parse_listen(args.proxy_listen, "--proxy-listen")
    parse_listen(args.proxy_admin_listen, "--proxy-admin-listen")
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    proxy = ProxySettings(listen=args.proxy_listen, admin_listen=args.proxy_admin_listen)
    return run_up(args.kubeconfig, args.port, args.without, proxy, args.image,
                  policies=policy_file(args))


def register_demo(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="the guided demo: a canary release and an aborted one on an embedded cluster",
        description="Start an embedded cluster with canarist's webhook, reconciler and proxy; "
        "release v2 of a demo app step by step under live traffic, then release a v3 that "
        "answers errors and watch its analysis abort it; print a summary. Exit 0 when both went "
        "as expected.",
    )
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import logging

    from webhook.demo.scenario import run_demo

    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    return run_demo()
