"""Releases: ``reconcile``, ``render``, and the controls ``status``, ``list`` and the actions.

The controls' work is in ``webhook.kube.controls``; they also exit 3 when the Deployment does not
exist.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from webhook.cli.common import (
    EXIT_OK,
    Subparsers,
    client_options,
    integer_arg,
    kube_flags,
    number_arg,
    policy_configmap,
    policy_file,
    policy_flags,
    read_input,
)
from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.release.loop import LoopOptions


def register_reconcile(sub: Subparsers) -> None:
    p = sub.add_parser(
        "reconcile",
        help="run the release reconciler (canary Deployments, Services, routers, steps)",
        description="Watch opted-in Deployments and release every template change step by "
        "step: canary Deployment and Service, traffic routers, pauses, promotion and abort. "
        "Stops on SIGINT/SIGTERM.",
    )
    kube_flags(p, namespace="watch only this namespace (default: every namespace)")
    p.add_argument("--leader-elect", action="store_true",
                   help="reconcile only while holding the Lease (--lease-name)")
    p.add_argument("--lease-name", default="canarist-reconciler", metavar="NAME",
                   help="the Lease replicas elect a leader on (default canarist-reconciler)")
    p.add_argument("--lease-namespace", default="canarist-system", metavar="NS",
                   help="namespace of the Lease (default canarist-system)")
    p.add_argument("--lease-owner", default="", metavar="DEPLOYMENT",
                   help="the reconciler's own Deployment in --lease-namespace: it owns the "
                   "Lease, so deleting it (helm uninstall) deletes the Lease")
    p.add_argument("--workers", type=integer_arg, default=4, metavar="N",
                   help="Deployments reconciled at once (default 4)")
    p.add_argument("--resync", type=number_arg, default=300.0, metavar="SECONDS",
                   help="re-apply routing of every release this often (default 300)")
    p.add_argument("--metrics-address", default="", metavar="HOST:PORT",
                   help="serve /metrics and /healthz there (default: off)")
    p.add_argument("--proxy-admin-url", metavar="URL",
                   help="admin address of canarist proxy, read by the builtin analysis provider "
                   "(e.g. http://canarist-proxy.canarist-system:9901)")
    p.add_argument("--qps", type=number_arg, default=100.0, metavar="N",
                   help="client-side limit of API requests per second (default 100; 0: none)")
    p.add_argument("--burst", type=integer_arg, default=200, metavar="N",
                   help="requests allowed at once above --qps (default 200)")
    p.add_argument("--promotion", choices=("handover", "rollout"), default="handover",
                   help="handover (default): the Deployment adopts the canary's ReplicaSet and "
                   "its tested pods; rollout: the Deployment rolls the template out itself")
    policy_flags(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every reconcile problem")
    p.set_defaults(handler=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from webhook.release.serve import ServeOptions, parse_address, run_reconcile

    if args.workers < 1:
        raise InvalidInput(f"--workers: must be at least 1, got {args.workers}")
    if args.resync <= 0:
        raise InvalidInput(f"--resync: must be positive, got {args.resync:g}")
    if args.metrics_address:
        parse_address(args.metrics_address)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = ServeOptions(loop=loop_options(args), leader_elect=args.leader_elect,
                           lease_namespace=args.lease_namespace, lease_owner=args.lease_owner,
                           lease_name=args.lease_name,
                           metrics_address=args.metrics_address)
    if args.qps < 0 or args.burst < 1:
        raise InvalidInput("--qps must be 0 or more and --burst at least 1")
    client = dataclasses.replace(client_options(args), qps=args.qps, burst=args.burst,
                                 workers=max(8, args.workers * 2))
    return run_reconcile(client, options)


def loop_options(args: argparse.Namespace) -> LoopOptions:
    """The reconcile loop's options from ``canarist reconcile``'s flags."""
    from webhook.release.loop import LoopOptions

    return LoopOptions(namespace=args.namespace or "", workers=args.workers,
                       resync=args.resync, proxy_admin_url=args.proxy_admin_url,
                       handover=args.promotion == "handover", policies=policy_file(args),
                       policy_configmap=policy_configmap(args))


def register_render(sub: Subparsers) -> None:
    p = sub.add_parser(
        "render",
        help="print every object canarist would create or change at a step of a release",
        description="For the Deployment(s) in FILE (as applied for the new revision, with their "
        "Services and routing objects), print as YAML every object canarist would create or "
        "change while step N is current (what steps 0..N set), or at weight W. Offline.",
    )
    p.add_argument("-f", "--filename", required=True, help="YAML file, or - for stdin")
    at = p.add_mutually_exclusive_group()
    at.add_argument("--step", type=integer_arg, metavar="N", help="0-based step index (default 0)")
    at.add_argument("--weight", type=integer_arg, metavar="W", help="a canary weight, 0-100")
    p.add_argument("--stable-hash", metavar="H",
                   help="hash of the stable revision (default: the hash label already on the "
                   "template when it differs from the new one, else 'stable')")
    p.add_argument("--api-versions", action="append", default=[], metavar="GROUP/VERSION",
                   help="an API version the cluster serves (repeatable, or comma-separated), "
                   "as helm template's: e.g. split.smi-spec.io/v1alpha2 makes the SMI router "
                   "write what Linkerd serves (default: the CRDs in FILE, else the published "
                   "ones)")
    p.set_defaults(handler=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    from webhook.release.render import render

    text = read_input(args.filename)
    versions = [v.strip() for item in args.api_versions for v in item.split(",") if v.strip()]
    sys.stdout.write(render(text, step=args.step, weight=args.weight,
                            stable_hash=args.stable_hash, source=args.filename,
                            api_versions=versions))
    return EXIT_OK


def register_status(sub: Subparsers) -> None:
    p = sub.add_parser(
        "status",
        help="show a Deployment's release: phase, step, weight, hashes, message",
        description="Show the release of Deployment NAME. Exit 0, or 1 when the release is "
        "Degraded (aborted) or the Deployment is not managed by canarist, 3 when it does not "
        "exist. With -w, follow it until the release ends (Healthy or Degraded).",
    )
    kube_flags(p)
    p.add_argument("name", metavar="NAME", help="the Deployment")
    p.add_argument("-w", "--watch", action="store_true",
                   help="follow the release until it ends (progress bar on a terminal)")
    _output_flag(p)
    p.add_argument("--timeout", type=number_arg, metavar="SECONDS",
                   help="with -w: give up (exit 1) after this long")
    p.set_defaults(handler=cmd_status)


def _output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")


def cmd_status(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_status

    if args.timeout is not None and args.timeout <= 0:
        raise InvalidInput(f"--timeout: must be positive, got {args.timeout:g}")
    return run_status(client_options(args), args.name, watch=args.watch, output=args.output,
                      timeout=args.timeout)


def register_list(sub: Subparsers) -> None:
    p = sub.add_parser(
        "list",
        help="list the Deployments canarist manages, with phase, step and weight",
        description="List the Deployments canarist manages (label canarist.io/enabled=true, or "
        "adopted by a cluster policy) of the namespace, or of every namespace with -A, with the "
        "policy governing each.",
    )
    kube_flags(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    _output_flag(p)
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_list

    return run_list(client_options(args), all_namespaces=args.all_namespaces,
                    output=args.output)


_ACTIONS = {
    "promote": "skip the current step (or past a pause); --full: skip every remaining step",
    "abort": "send all traffic back to stable and scale the canary away (phase Degraded)",
    "retry": "restart an aborted release from its first step",
    "pause": "hold the release at its current step until resume",
    "resume": "continue a release held by pause",
}


def register_actions(sub: Subparsers) -> None:
    for action, text in _ACTIONS.items():
        p = sub.add_parser(
            action, help=text,
            description=f"{text[0].upper()}{text[1:]}. Writes canarist.io/action on Deployment "
            "NAME for the reconciler; refused (exit 1) when it makes no sense in the release's "
            "current state; exit 3 when the Deployment does not exist.",
        )
        kube_flags(p)
        p.add_argument("name", metavar="NAME", help="the Deployment")
        if action == "promote":
            p.add_argument("--full", action="store_true",
                           help="skip every remaining step; traffic goes to 100%% once the "
                           "canary is fully available (refused when the Deployment's cluster "
                           "policy sets rules.allowPromoteFull: false)")
            policy_flags(p, policy_help="with --full: judge it under the policies of this "
                         "file (default: the ConfigMap below)",
                         follow_help="with --full: the ConfigMap holding the cluster policies "
                         "(default canarist-system/canarist-policies)")
        p.set_defaults(handler=cmd_action, action=action)


def cmd_action(args: argparse.Namespace) -> int:
    from webhook.kube.controls import run_action
    from webhook.spec import Action

    action = Action.PROMOTE_FULL if getattr(args, "full", False) else Action(args.action)
    source = policy_configmap(args) or (policy_file(args) if getattr(args, "policy", None)
                                        else None)
    return run_action(client_options(args), args.name, action, policies=source)


def register_undo(sub: Subparsers) -> None:
    p = sub.add_parser(
        "undo",
        help="roll a Deployment back: mid-release to stable at once, at rest to the previous "
        "revision through the steps",
        description="Argo Rollouts' undo for a Deployment canarist releases. Mid-release, the "
        "stable revision's template goes back (a fast rollback: no step runs). At rest, the "
        "previous revision (or --to-revision N) is released through the canary steps; "
        "--skip-steps skips them (promote-full). Revisions are those of the Deployment's "
        "ReplicaSets, as kubectl rollout history lists them. Unlike kubectl rollout undo, it "
        "works on a Deployment a release holds paused. Exit 1 when refused, 3 when the "
        "Deployment does not exist.",
    )
    kube_flags(p)
    p.add_argument("name", metavar="NAME", help="the Deployment")
    p.add_argument("--to-revision", type=integer_arg, metavar="N",
                   help="the revision to go back to (default: mid-release the stable one, at "
                   "rest the previous one)")
    p.add_argument("--skip-steps", action="store_true",
                   help="release that revision with every step skipped (promote-full)")
    p.set_defaults(handler=cmd_undo)


def cmd_undo(args: argparse.Namespace) -> int:
    from webhook.kube.undo import run_undo

    if args.to_revision is not None and args.to_revision < 1:
        raise InvalidInput(f"--to-revision: must be 1 or more, got {args.to_revision}")
    return run_undo(client_options(args), args.name, to_revision=args.to_revision,
                    skip_steps=args.skip_steps)
