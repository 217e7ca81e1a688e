"""Command line: argument parsing only, one function per subcommand.

Each ``cmd_*`` function imports the module that does the work lazily, so ``canarist --help``
stays fast and the product never imports the embedded cluster unless asked to. Errors are mapped
to exit codes in one place (``main``): 0 success, 1 an operation failed, 2 bad input. The release
controls (``status``, ``list``, ``promote``...) also return 3 when the Deployment does not exist.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from webhook import __version__
from webhook.errors import CanaristError, InvalidInput

if TYPE_CHECKING:
    from webhook.kube.config import ClientOptions

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canarist",
        description="Canary releases for plain Kubernetes Deployments.",
    )
    parser.add_argument("--version", action="version", version=f"canarist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _REGISTRARS:
        register(sub)
    return parser


# --- subcommands -------------------------------------------------------------------------------
# Each registrar adds one subcommand (or one group) and binds its handler with set_defaults.

_REGISTRARS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def _registrar(
    fn: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None],
) -> Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]:
    _REGISTRARS.append(fn)
    return fn


@_registrar
def _reg_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check the canarist annotations of Deployments in a YAML file",
        description="Validate the canarist annotations of every Deployment in FILE, offline.",
    )
    p.add_argument("-f", "--filename", required=True, help="YAML/JSON file, or - for stdin")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from webhook.spec.files import validate_file

    report = validate_file(_read_input(args.filename))
    sys.stdout.write(report.text)
    return EXIT_OK if report.ok else EXIT_FAILED


@_registrar
def _reg_proxy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    src.add_argument("--kubeconfig", metavar="FILE", help="cluster mode: routes from the "
                     "route-table ConfigMaps, endpoints from EndpointSlices")
    src.add_argument("--cluster", action="store_true", help="cluster mode with the default "
                     "kubeconfig ($KUBECONFIG, ~/.kube/config, else in-cluster)")
    p.add_argument("--context", metavar="NAME", help="cluster mode: kubeconfig context to use")
    p.add_argument("-n", "--namespace", metavar="NS", help="cluster mode: namespace to follow, "
                   "or 'all' for every namespace (default: the context's, else default)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes sharing the port with SO_REUSEPORT (default 1)")
    p.add_argument("--admin-listen", metavar="HOST:PORT",
                   help="serve /metrics, /summary and /healthz here (default: off)")
    p.add_argument("--no-version-header", action="store_true",
                   help="do not add x-canarist-version to responses")
    p.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--upstream-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="longest wait for an upstream's response headers (then 504)")
    p.add_argument("--keepalive-timeout", type=float, default=75.0, metavar="SECONDS")
    p.add_argument("--drain-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM, longest wait for requests in flight")
    p.add_argument("--mirror-timeout", type=float, default=2.0, metavar="SECONDS")
    p.add_argument("--mirror-queue", type=int, default=1024, metavar="N",
                   help="mirrored copies waiting to be sent; more are dropped and counted")
    p.add_argument("--mirror-max-body", type=int, default=1 << 20, metavar="BYTES",
                   help="requests with larger bodies are not mirrored (counted as dropped)")
    p.add_argument("--window", type=int, default=60, metavar="SECONDS",
                   help="sliding window of the /summary endpoint")
    p.set_defaults(handler=cmd_proxy)


def cmd_proxy(args: argparse.Namespace) -> int:
    import logging

    from webhook.proxy.runner import config_from_args, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run(config_from_args(args))


@_registrar
def _reg_webhook(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "webhook",
        help="run the admission webhook (HTTPS)",
        description="Serve /mutate (AdmissionReview v1), /healthz, /readyz and /metrics over "
        "TLS 1.2+. Certificate and key are reloaded when their files change; SIGTERM drains.",
    )
    p.add_argument("--tls-cert", required=True, metavar="FILE", help="PEM certificate (chain)")
    p.add_argument("--tls-key", required=True, metavar="FILE", help="PEM private key")
    p.add_argument("--listen", default="0.0.0.0:8443", metavar="HOST:PORT",
                   help="address to serve on (default 0.0.0.0:8443)")
    p.add_argument("--drain-seconds", type=float, default=2.0, metavar="SECONDS",
                   help="after SIGTERM, keep answering (closing every connection) this long "
                   "before the listener stops (default 2)")
    p.add_argument("--reload-interval", type=float, default=2.0, metavar="SECONDS",
                   help="how often the certificate files are checked for changes (default 2)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(handler=cmd_webhook)


def cmd_webhook(args: argparse.Namespace) -> int:
    from webhook.admission.config import ServerConfig, parse_listen
    from webhook.admission.jsonlog import configure
    from webhook.admission.server import run

    host, port = parse_listen(args.listen)
    configure(args.log_level)
    run(ServerConfig(args.tls_cert, args.tls_key, host, port, drain_seconds=args.drain_seconds,
                     reload_interval=args.reload_interval))
    return EXIT_OK


@_registrar
def _reg_mutate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mutate",
        help="answer one AdmissionReview offline, as the webhook would",
        description="Read an AdmissionReview v1 request and print the webhook's response. "
        "Exit 0 whether it is allowed or denied, 2 if the input is not an AdmissionReview.",
    )
    p.add_argument("-f", "--filename", required=True, help="JSON file, or - for stdin")
    p.set_defaults(handler=cmd_mutate)


def cmd_mutate(args: argparse.Namespace) -> int:
    import json

    from webhook.admission import review

    decision = review(_read_bytes(args.filename))
    sys.stdout.write(json.dumps(decision.response.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


@_registrar
def _reg_certs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("certs", help="issue the webhook's TLS certificates")
    certs = p.add_subparsers(dest="certs_command", metavar="COMMAND")
    certs.required = True
    g = certs.add_parser(
        "generate",
        help="write a CA and a serving certificate for the webhook's Service",
        description="Write ca.crt, tls.crt and tls.key (0600) into DIR. The serving "
        "certificate is valid for <svc>, <svc>.<ns>, <svc>.<ns>.svc and "
        "<svc>.<ns>.svc.cluster.local plus any --extra-san.",
    )
    g.add_argument("--service", required=True, help="the webhook's Service name")
    g.add_argument("--namespace", required=True, help="the Service's namespace")
    g.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    g.add_argument("--days", type=int, default=365, metavar="N",
                   help="validity of the serving certificate (default 365; the CA gets 10 years)")
    g.add_argument("--extra-san", action="append", default=[], metavar="NAME",
                   help="another DNS name or IP address (repeatable or comma-separated)")
    g.add_argument("--force", action="store_true", help="replace existing files")
    g.set_defaults(handler=cmd_certs_generate)
    _add_certs_ensure(certs)


def cmd_certs_generate(args: argparse.Namespace) -> int:
    from webhook.tls.files import generate

    extra = [name.strip() for value in args.extra_san for name in value.split(",") if name.strip()]
    done = generate(args.out, args.service, args.namespace, days=args.days, extra_sans=extra,
                    force=args.force)
    for path in done.paths:
        print(f"wrote {path}")
    print(f"valid for: {done.names}")
    return EXIT_OK


def _add_certs_ensure(certs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    e = certs.add_parser(
        "ensure",
        help="keep the webhook's certificates in a Secret, the caBundle and files (in-cluster)",
        description="Load the webhook's CA and serving certificate from a Secret (creating or "
        "rotating them when missing, broken or past 2/3 of their lifetime; replicas racing "
        "converge on one), patch the CA bundle into the MutatingWebhookConfiguration's webhooks "
        "that call the Service, and write tls.crt, tls.key and ca.crt into --out for the "
        "server's hot reload. Writes nothing when nothing is due.",
    )
    _kube_flags(e, namespace=False)
    e.add_argument("--service", required=True, help="the webhook's Service name")
    e.add_argument("--namespace", required=True,
                   help="the Service's namespace (the Secret lives there too)")
    e.add_argument("--secret", default="canarist-webhook-tls",
                   help="Secret holding CA and serving pair (default canarist-webhook-tls)")
    e.add_argument("--webhook-config", default="canarist", metavar="NAME",
                   help="MutatingWebhookConfiguration to patch (default canarist; '' to skip)")
    e.add_argument("--out", metavar="DIR", help="also write tls.crt, tls.key and ca.crt here")
    e.add_argument("--extra-san", action="append", default=[], metavar="NAME",
                   help="another DNS name or IP address (repeatable or comma-separated)")
    e.add_argument("--serving-days", type=int, default=90, metavar="N",
                   help="validity of the serving certificate (default 90; renewed after 2/3)")
    e.add_argument("--ca-days", type=int, default=3650, metavar="N",
                   help="validity of the CA (default 3650)")
    e.add_argument("--every", type=float, metavar="SECONDS",
                   help="keep running: check again this often (and at the planned renewal)")
    e.set_defaults(handler=cmd_certs_ensure)


def cmd_certs_ensure(args: argparse.Namespace) -> int:
    from pathlib import Path

    from webhook.kube.certs import EnsureOptions, ensure_certs, keep_ensuring
    from webhook.kube.client import connect_sync
    from webhook.kube.config import check_namespace
    from webhook.tls import Lifetimes

    bad = [f"--{flag}: must be at least 1, got {value}" for flag, value in
           (("serving-days", args.serving_days), ("ca-days", args.ca_days)) if value < 1]
    if args.every is not None and args.every < 1:
        bad.append(f"--every: must be at least 1 second, got {args.every:g}")
    if bad:
        raise InvalidInput("; ".join(bad))
    extra = [name.strip() for value in args.extra_san for name in value.split(",") if name.strip()]
    opts = EnsureOptions(
        service=args.service, namespace=check_namespace(args.namespace),
        secret=args.secret, webhook_config=args.webhook_config or None,
        out=Path(args.out) if args.out else None, extra_sans=extra,
        life=Lifetimes(ca_days=args.ca_days, serving_days=args.serving_days))
    client = connect_sync(_client_options(args, namespace=args.namespace))
    try:
        if args.every is None:
            print("\n".join(ensure_certs(client, opts).lines(opts)))
        else:
            keep_ensuring(client, opts, args.every,
                          lambda report: print("\n".join(report.lines(opts)), flush=True))
    finally:
        client.close()
    return EXIT_OK


@_registrar
def _reg_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up",
        help="run the embedded cluster (API server, controllers, kubelet, webhook, reconciler)",
        description="Start an in-process Kubernetes API server on 127.0.0.1 with its "
        "controllers, kubelet and canarist's admission webhook; write a kubeconfig; print one "
        "line with the API address and the kubeconfig path when ready; stop on SIGINT/SIGTERM.",
    )
    p.add_argument("--kubeconfig", metavar="PATH",
                   help="where to write the kubeconfig (default ~/.canarist/kubeconfig)")
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="API server port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--without", action="append", default=[], metavar="COMPONENT",
                   help="leave a component out (gc, controllers, kubelet, webhook, reconciler); "
                   "repeatable "
                   "or comma-separated")
    p.set_defaults(handler=cmd_up)


def cmd_up(args: argparse.Namespace) -> int:
    import logging

    from webhook.cluster.up import run_up

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s "
                        "%(message)s")
    return run_up(args.kubeconfig, args.port, args.without)


@_registrar
def _reg_reconcile(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reconcile",
        help="run the release reconciler (canary Deployments, Services, routers, steps)",
        description="Watch opted-in Deployments and release every template change step by "
        "step: canary Deployment and Service, traffic routers, pauses, promotion and abort. "
        "Stops on SIGINT/SIGTERM.",
    )
    _kube_flags(p, namespace=False)
    p.add_argument("-n", "--namespace", metavar="NS",
                   help="watch only this namespace (default: every namespace)")
    p.add_argument("--leader-elect", action="store_true",
                   help="reconcile only while holding the Lease canarist-reconciler")
    p.add_argument("--lease-namespace", default="canarist-system", metavar="NS",
                   help="namespace of the Lease (default canarist-system)")
    p.add_argument("--workers", type=int, default=4, metavar="N",
                   help="Deployments reconciled at once (default 4)")
    p.add_argument("--resync", type=float, default=300.0, metavar="SECONDS",
                   help="re-apply routing of every release this often (default 300)")
    p.add_argument("--metrics-address", default="", metavar="HOST:PORT",
                   help="serve /metrics and /healthz there (default: off)")
    p.add_argument("--proxy-admin-url", metavar="URL",
                   help="admin address of canarist proxy, read by the builtin analysis provider "
                   "(e.g. http://canarist-proxy.canarist-system:9901)")
    p.add_argument("--qps", type=float, default=100.0, metavar="N",
                   help="client-side limit of API requests per second (default 100; 0: none)")
    p.add_argument("--burst", type=int, default=200, metavar="N",
                   help="requests allowed at once above --qps (default 200)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every reconcile problem")
    p.set_defaults(handler=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from webhook.release.loop import LoopOptions
    from webhook.release.serve import ServeOptions, parse_address, run_reconcile

    if args.workers < 1:
        raise InvalidInput(f"--workers: must be at least 1, got {args.workers}")
    if args.resync <= 0:
        raise InvalidInput(f"--resync: must be positive, got {args.resync:g}")
    if args.metrics_address:
        parse_address(args.metrics_address)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loop = LoopOptions(namespace=args.namespace or "", workers=args.workers, resync=args.resync,
                       proxy_admin_url=args.proxy_admin_url)
    options = ServeOptions(loop=loop, leader_elect=args.leader_elect,
                           lease_namespace=args.lease_namespace,
                           metrics_address=args.metrics_address)
    if args.qps < 0 or args.burst < 1:
        raise InvalidInput("--qps must be 0 or more and --burst at least 1")
    client = dataclasses.replace(_client_options(args), qps=args.qps, burst=args.burst,
                                 workers=max(8, args.workers * 2))
    return run_reconcile(client, options)


@_registrar
def _reg_render(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "render",
        help="print every object canarist would create or change at a step of a release",
        description="For the Deployment(s) in FILE (as applied for the new revision, with their "
        "Services and routing objects), print as YAML every object canarist would create or "
        "change while step N is current (what steps 0..N set), or at weight W. Offline.",
    )
    p.add_argument("-f", "--filename", required=True, help="YAML file, or - for stdin")
    at = p.add_mutually_exclusive_group()
    at.add_argument("--step", type=int, metavar="N", help="0-based step index (default 0)")
    at.add_argument("--weight", type=int, metavar="W", help="a canary weight, 0-100")
    p.add_argument("--stable-hash", metavar="H",
                   help="hash of the stable revision (default: the hash label already on the "
                   "template when it differs from the new one, else 'stable')")
    p.set_defaults(handler=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    from webhook.release.render import render

    text = _read_input(args.filename)
    sys.stdout.write(render(text, step=args.step, weight=args.weight,
                            stable_hash=args.stable_hash, source=args.filename))
    return EXIT_OK


@_registrar
def _reg_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


# --- release controls (webhook.kube.controls) ----------------------------------------------------


def _kube_flags(p: argparse.ArgumentParser, *, namespace: bool = True) -> None:
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    p.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    if namespace:
        p.add_argument("-n", "--namespace", metavar="NS",
                       help="namespace (default: the context's, else default)")


def _client_options(args: argparse.Namespace, namespace: str | None = None) -> ClientOptions:
    from webhook.kube.config import ClientOptions

    return ClientOptions(kubeconfig=args.kubeconfig, context=args.context,
                         namespace=namespace or getattr(args, "namespace", None))


@_registrar
def _reg_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="show a Deployment's release: phase, step, weight, hashes, message",
        description="Show the release of Deployment NAME. Exit 0, or 1 when the release is "
        "Degraded (aborted) or the Deployment is not managed by canarist, 3 when it does not "
        "exist. With -w, follow it until the release ends (Healthy or Degraded).",
    )
    _kube_flags(p)
    p.add_argument("name", metavar="NAME", help="the Deployment")
    p.add_argument("-w", "--watch", action="store_true",
                   help="follow the release until it ends (progress bar on a terminal)")
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="with -w: give up (exit 1) after this long")
    p.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_status

    if args.timeout is not None and args.timeout <= 0:
        raise InvalidInput(f"--timeout: must be positive, got {args.timeout:g}")
    return run_status(_client_options(args), args.name, watch=args.watch, output=args.output,
                      timeout=args.timeout)


@_registrar
def _reg_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "list",
        help="list the Deployments canarist manages, with phase, step and weight",
        description="List the opted-in Deployments (label canarist.io/enabled=true) of the "
        "namespace, or of every namespace with -A.",
    )
    _kube_flags(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_list

    return run_list(_client_options(args), all_namespaces=args.all_namespaces,
                    output=args.output)


_ACTIONS = {
    "promote": "skip the current step (or past a pause); --full: skip every remaining step",
    "abort": "send all traffic back to stable and scale the canary away (phase Degraded)",
    "retry": "restart an aborted release from its first step",
    "pause": "hold the release at its current step until resume",
    "resume": "continue a release held by pause",
}


@_registrar
def _reg_actions(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for action, text in _ACTIONS.items():
        p = sub.add_parser(
            action, help=text,
            description=f"{text[0].upper()}{text[1:]}. Writes canarist.io/action on Deployment "
            "NAME for the reconciler; refused (exit 1) when it makes no sense in the release's "
            "current state; exit 3 when the Deployment does not exist.",
        )
        _kube_flags(p)
        p.add_argument("name", metavar="NAME", help="the Deployment")
        if action == "promote":
            p.add_argument("--full", action="store_true",
                           help="skip every remaining step; traffic goes to 100%% once the "
                           "canary is fully available")
        p.set_defaults(handler=cmd_action, action=action)


def cmd_action(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_action
    from webhook.spec import Action

    action = Action.PROMOTE_FULL if getattr(args, "full", False) else Action(args.action)
    return run_action(_client_options(args), args.name, action)


# --- helpers -----------------------------------------------------------------------------------


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror}") from exc


def _read_input(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InvalidInput as exc:
        print(f"canarist: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CanaristError as exc:
        print(f"canarist: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
