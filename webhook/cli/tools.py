"""Offline tools and certificates: ``validate``, ``mutate``, ``certs generate|ensure``."""

from __future__ import annotations

import argparse
import sys

from webhook.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Subparsers,
    client_options,
    kube_flags,
    policy_flags,
    read_bytes,
    read_input,
    split_names,
)
from webhook.errors import InvalidInput


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

    data = read_bytes(args.filename)
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
    g.add_argument("--days", type=int, default=365, metavar="N",
                   help="validity of the serving certificate (default 365; the CA gets 10 years)")
    _extra_san_flag(g)
    g.add_argument("--force", action="store_true", help="replace existing files")
    g.set_defaults(handler=cmd_certs_generate)


def _extra_san_flag(p: argparse.ArgumentParser) -> None:
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
        "rotating them when missing, broken or past 2/3 of their lifetime; replicas racing "
        "converge on one), patch the CA bundle into the MutatingWebhookConfiguration's webhooks "
        "that call the Service, and write tls.crt, tls.key and ca.crt into --out for the "
        "server's hot reload. Writes nothing when nothing is due.",
    )
    kube_flags(e, namespace=None)
    e.add_argument("--service", required=True, help="the webhook's Service name")
    e.add_argument("--namespace", required=True,
                   help="the Service's namespace (the Secret lives there too)")
    e.add_argument("--secret", default="canarist-webhook-tls",
                   help="Secret holding CA and serving pair (default canarist-webhook-tls)")
    e.add_argument("--webhook-config", default="canarist", metavar="NAME",
                   help="MutatingWebhookConfiguration to patch (default canarist; '' to skip)")
    e.add_argument("--out", metavar="DIR", help="also write tls.crt, tls.key and ca.crt here")
    _extra_san_flag(e)
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
    opts = EnsureOptions(
        service=args.service, namespace=check_namespace(args.namespace),
        secret=args.secret, webhook_config=args.webhook_config or None,
        out=Path(args.out) if args.out else None, extra_sans=split_names(args.extra_san),
        life=Lifetimes(ca_days=args.ca_days, serving_days=args.serving_days))
    client = connect_sync(client_options(args, namespace=args.namespace))
    try:
        if args.every is None:
            print("\n".join(ensure_certs(client, opts).lines(opts)))
        else:
            keep_ensuring(client, opts, args.every,
                          lambda report: print("\n".join(report.lines(opts)), flush=True))
    finally:
        client.close()
    return EXIT_OK
