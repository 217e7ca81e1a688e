"""Offline tools and certificates: ``validate``, ``mutate``, ``certs generate|ensure``."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import threading
from typing import TYPE_CHECKING

from webhook.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Subparsers,
    client_options,
    integer_arg,
    kube_flags,
    kubeconfig_flag,
    number_arg,
    policy_flags,
    read_bytes,
    read_input,
    split_names,
)
from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.kube.certs import EnsureOptions


MAX_CA_FILE = 1024 * 1024  # a CA bundle: a few certificates

def register_validate(sub: Subparsers) -> None:
    p = sub.add_parser(
        "validate",
        help="check the canarist annotations of Deployments in a YAML file, and policies",
        description="Validate the canarist annotations of every Deployment in FILE, offline. "
        "With --policy, first check the cluster policy document (every problem with its path; "
        "warnings for shadowed policies), then judge each Deployment of FILE as admission "
        "would under it: the policy covering it, whether it is managed, and its effective "
        "settings against the policy's rules. Exit 0 when everything is valid, 1 otherwise.",
    )
    p.add_argument("-f", "--filename", help="YAML/JSON file, or - for stdin (required unless "
                   "--policy is given)")
    policy_flags(p, follow=False, policy_help="a cluster policy document (policies: list) to "
                 "check, and to judge the Deployments of FILE under")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from webhook.policy.files import check_policies, validate_deployments
    from webhook.spec.files import validate_file

    if not args.filename and not args.policy:
        raise InvalidInput("validate: give -f FILE, --policy FILE, or both")
    ok = True
    if args.policy:
        checked = check_policies(read_input(args.policy), args.policy)
        sys.stdout.write(checked.text)
        ok = checked.ok
        if checked.policies is None or not args.filename:
            return EXIT_OK if ok else EXIT_FAILED
        report = validate_deployments(read_input(args.filename), args.filename,
                                      checked.policies)
    else:
        report = validate_file(read_input(args.filename), source=args.filename)
    sys.stdout.write(report.text)
    return EXIT_OK if ok and report.ok else EXIT_FAILED


def register_mutate(sub: Subparsers) -> None:
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
    from webhook.admission.config import MAX_BODY

    data = read_bytes(args.filename, MAX_BODY)  # what the webhook takes
    try:
        decision = review(data)
    except InvalidInput as exc:
        from webhook.spec.files import argo_in

        advice = argo_in(data, args.filename)
        if advice:
            raise InvalidInput(f"{args.filename} is not an AdmissionReview: {advice}") from exc
        raise
    from webhook.spec.files import argo_message

    obj = (json.loads(data).get("request") or {}).get("object")
    advice = argo_message(obj)  # (the Rollout is not the file: convert -f FILE)
    if advice:  # allowed untouched: the webhook is only called for Deployments
        print(f"canarist: the review's object is not a Deployment: {advice}", file=sys.stderr)
    sys.stdout.write(json.dumps(decision.response.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def register_check_webhook(sub: Subparsers) -> None:
    p = sub.add_parser(
        "check-webhook",
        help="check that every ready webhook replica holds a release (what helm test runs)",
        description="Send every ready endpoint of the webhook's Service, over TLS verified with "
        "the CA bundle and the Service's name, a dry-run admission of an opted-in Deployment "
        "and then of a change to its image; the change must be held (spec.paused, warning). "
        "Exit 0 when every replica held it, 1 otherwise (or with no ready replica).",
    )
    kube_flags(p, namespace="the webhook's namespace (default: the pod's, else the context's)")
    p.add_argument("--service", default="canarist-webhook", metavar="NAME",
                   help="the webhook's Service (default canarist-webhook)")
    p.add_argument("--ca-file", required=True, metavar="FILE",
                   help="PEM bundle of the CAs to trust (the caBundle)")
    p.add_argument("--timeout", type=number_arg, default=5.0, metavar="SECONDS")
    p.set_defaults(handler=cmd_check_webhook)


def cmd_check_webhook(args: argparse.Namespace) -> int:
    from webhook.kube.client import connect_sync
    from webhook.kube.webhookcheck import check

    ca = read_bytes(args.ca_file, MAX_CA_FILE)
    client = connect_sync(client_options(args))
    try:
        answers = check(client, client.namespace, args.service, ca, args.timeout)
    finally:
        client.close()
    for a in answers:
        print(f"{a.endpoint}: {'ok' if a.ok else 'FAILED'}: {a.detail}")
    if not answers:
        print(f"no ready endpoint of service {client.namespace}/{args.service}")
    return EXIT_OK if answers and all(a.ok for a in answers) else EXIT_FAILED


def register_certs(sub: Subparsers) -> None:
    p = sub.add_parser("certs", help="issue the webhook's TLS certificates")
    certs = p.add_subparsers(dest="certs_command", metavar="COMMAND")
    certs.required = True
    _register_generate(certs)
    _register_ensure(certs)


def _register_generate(certs: Subparsers) -> None:
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
    g.add_argument("--days", type=integer_arg, default=365, metavar="N",
                   help="validity of the serving certificate (default 365; the CA gets 10 years)")
    _extra_san_flag(g)
    g.add_argument("--force", action="store_true", help="replace existing files")
    g.set_defaults(handler=cmd_certs_generate)


def _extra_san_flag(p: argparse._ActionsContainer) -> None:
    p.add_argument("--extra-san", action="append", default=[], metavar="NAME",
                   help="another DNS name or IP address (repeatable or comma-separated)")


def cmd_certs_generate(args: argparse.Namespace) -> int:
    from webhook.tls.files import generate

    done = generate(args.out, args.service, args.namespace, days=args.days,
                    extra_sans=split_names(args.extra_san), force=args.force)
    for path in done.paths:
        print(f"wrote {path}")
    print(f"valid for: {done.names}")
    return EXIT_OK


def _register_ensure(certs: Subparsers) -> None:
    e = certs.add_parser(
        "ensure",
        help="keep the webhook's certificates in a Secret, the caBundle and files (in-cluster)",
        description="Load the webhook's CA and serving certificate from a Secret (creating or "
        "rotating them when missing, broken or past 2/3 of their lifetime; a new CA joins the "
        "caBundle before it signs anything; replicas racing converge on one), patch the CA "
        "bundle into the MutatingWebhookConfiguration's webhooks that call the Service, and "
        "write tls.crt, tls.key and ca.crt into --out for the server's hot reload. Writes "
        "nothing when nothing is due.",
    )
    kube_flags(e, namespace=None)
    e.add_argument("--service", required=True, help="the webhook's Service name")
    e.add_argument("--namespace", required=True,
                   help="the Service's namespace (the Secret lives there too)")
    e.add_argument("--secret", default="canarist-webhook-tls",
                   help="Secret holding CA and serving pair (default canarist-webhook-tls)")
    e.add_argument("--out", metavar="DIR", help="also write tls.crt, tls.key and ca.crt here")
    cert_keeping_flags(e)
    e.add_argument("--serving-days", type=integer_arg, metavar="N",
                   help="validity of the serving certificate in days (default 90)")
    e.add_argument("--ca-days", type=integer_arg, metavar="N", help="validity of the CA in days "
                   "(default 3650)")
    e.add_argument("--every", type=number_arg, metavar="SECONDS",
                   help="keep running: check again this often (and at the planned renewal); "
                   "a failed check is retried after 1 s, doubling up to SECONDS")
    e.set_defaults(handler=cmd_certs_ensure)


def cert_keeping_flags(p: argparse._ActionsContainer) -> None:
    """What ``certs ensure`` and ``webhook --cert-secret`` share."""
    p.add_argument("--webhook-config", default="canarist", metavar="NAME",
                   help="MutatingWebhookConfiguration whose webhooks calling the Service get "
                   "the caBundle, and which owns the Secret (default canarist; '' for none)")
    _extra_san_flag(p)
    p.add_argument("--serving-lifetime", type=lifetime_arg, metavar="DURATION",
                   help="validity of the serving certificate, e.g. 2160h or 90d (default 90d; "
                   "renewed after 2/3)")
    p.add_argument("--ca-lifetime", type=lifetime_arg, metavar="DURATION",
                   help="validity of the CA, e.g. 87600h (default 3650d; renewed after 2/3)")
    p.add_argument("--ca-propagation", type=lifetime_arg, default=None, metavar="DURATION",
                   help="how long a new CA is in the published caBundle before it signs "
                   "(default 60s)")
    p.add_argument("--follow", action="store_true",
                   help="the Secret is issued by someone else (e.g. cert-manager): only read "
                   "it (and make the webhook configuration its owner); issue nothing and leave "
                   "the caBundle to its injector")
    p.add_argument("--adopt-secret", action="append", default=[], metavar="NAME",
                   help="another Secret the webhook configuration should own, so it goes "
                   "with it (e.g. the CA cert-manager issues); repeatable")


_LIFETIME = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.ASCII)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def lifetime_arg(text: str) -> dt.timedelta:
    """``90d``, ``2160h``, ``1h30m``, ``45s`` (Go durations, plus days)."""
    if not text or _LIFETIME.sub("", text) or len(text) > 40:
        raise argparse.ArgumentTypeError(
            f"must be a duration such as 45s, 30m, 2160h or 90d, got {text!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in _LIFETIME.findall(text))
    if not 0 <= seconds <= 100 * 365 * 86400:
        raise argparse.ArgumentTypeError(f"must be at most 100 years, got {text!r}")
    return dt.timedelta(seconds=seconds)


def ensure_options(args: argparse.Namespace, *, service: str, namespace: str, secret: str,
                   out: str | None) -> EnsureOptions:
    """The ``EnsureOptions`` of the flags ``cert_keeping_flags`` added (and --*-days)."""
    from pathlib import Path

    from webhook.kube.certs import EnsureOptions
    from webhook.kube.config import check_namespace
    from webhook.tls import Lifetimes
    from webhook.tls.renewal import DAY

    days = {"serving": getattr(args, "serving_days", None), "ca": getattr(args, "ca_days", None)}
    bad = [f"--{k}-days: must be at least 1, got {v}" for k, v in days.items()
           if v is not None and v < 1]
    bad += [f"--{k}-days and --{k}-lifetime: pick one" for k, v in days.items()
            if v is not None and getattr(args, f"{k}_lifetime") is not None]
    if bad:
        raise InvalidInput("; ".join(bad))
    default = Lifetimes()
    ca = args.ca_lifetime or (days["ca"] * DAY if days["ca"] else default.ca)
    serving = args.serving_lifetime or (days["serving"] * DAY if days["serving"]
                                        else default.serving)
    propagation = default.propagation if args.ca_propagation is None else args.ca_propagation
    life = Lifetimes(ca=ca, serving=serving, propagation=propagation)  # ConfigError: exit 2
    return EnsureOptions(
        service=service, namespace=check_namespace(namespace), secret=secret,
        webhook_config=args.webhook_config or None, out=Path(out) if out else None,
        extra_sans=split_names(args.extra_san), life=life, follow=args.follow,
        adopt=tuple(split_names(args.adopt_secret)))


def cmd_certs_ensure(args: argparse.Namespace) -> int:
    from webhook.kube.certs import ensure_certs, keep_ensuring
    from webhook.kube.client import connect_sync

    if args.every is not None and args.every < 1:
        raise InvalidInput(f"--every: must be at least 1 second, got {args.every:g}")
    opts = ensure_options(args, service=args.service, namespace=args.namespace,
                          secret=args.secret, out=args.out)
    client = connect_sync(client_options(args, namespace=args.namespace))
    try:
        if args.every is None:
            print("\n".join(ensure_certs(client, opts).lines(opts)))
        else:
            keep_ensuring(client, opts, args.every,
                          lambda report: print("\n".join(report.lines(opts)), flush=True),
                          failed=lambda exc: print(f"canarist: {exc} (trying again)",
                                                   file=sys.stderr, flush=True))
    finally:
        client.close()
    return EXIT_OK


def webhook_cert_flags(p: argparse.ArgumentParser) -> None:
    """``canarist webhook``'s in-cluster certificates (instead of --tls-cert/--tls-key)."""
    g = p.add_argument_group(
        "certificates kept in the cluster",
        "With --cert-secret the webhook keeps its own certificates: the CA and serving pair in "
        "a Secret shared by every replica (issued and rotated as `certs ensure` does), the CA "
        "bundle in the webhook configuration, the pair read from the API and served without a "
        "restart. The server starts once the caBundle trusts the pair.")
    g.add_argument("--cert-secret", metavar="NAME",
                   help="the Secret (in the Service's namespace) holding CA and serving pair")
    g.add_argument("--service", default="canarist-webhook", metavar="NAME",
                   help="the webhook's Service (default canarist-webhook)")
    g.add_argument("--cert-check-interval", type=number_arg, default=10.0, metavar="SECONDS",
                   help="how often the Secret and the caBundle are checked (default 10)")
    g.add_argument("--cert-dir", metavar="DIR",
                   help="where the pair is written for the server (default: a new private "
                   "directory under $TMPDIR)")
    cert_keeping_flags(g)
    kubeconfig_flag(g)
    g.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    g.add_argument("-n", "--namespace", metavar="NS",
                   help="namespace of the Service and the Secret (default: the pod's, else the "
                   "context's)")


def start_cert_keeper(args: argparse.Namespace) -> tuple[str, str, threading.Event]:
    """With --cert-secret: ensure the certificates (blocking until they are ready), keep them
    in a thread; returns the certificate and key files to serve and the event that stops it."""
    import tempfile

    from webhook.kube.certkeep import Keeper
    from webhook.kube.client import connect_sync

    stop = threading.Event()
    if not args.cert_secret:
        if not (args.tls_cert and args.tls_key):
            raise InvalidInput("--tls-cert and --tls-key are required without --cert-secret")
        return args.tls_cert, args.tls_key, stop
    if args.tls_cert or args.tls_key:
        raise InvalidInput("--cert-secret serves its own pair: drop --tls-cert/--tls-key")
    if not 0.5 <= args.cert_check_interval <= 3600:
        raise InvalidInput(f"--cert-check-interval: must be 0.5-3600 seconds, got "
                           f"{args.cert_check_interval:g}")
    client = connect_sync(client_options(args))
    out = args.cert_dir or tempfile.mkdtemp(prefix="canarist-certs-")
    opts = ensure_options(args, service=args.service, namespace=client.namespace,
                          secret=args.cert_secret, out=out)
    keeper = Keeper(client, opts, args.cert_check_interval)
    if keeper.first(stop) is None:
        raise InvalidInput("stopped before the certificates were ready")
    keeper.start(stop)
    return f"{out}/tls.crt", f"{out}/tls.key", stop
