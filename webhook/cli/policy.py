"""Cluster policies: ``canarist policy explain``."""

from __future__ import annotations

import argparse

from webhook.cli.common import (
    Subparsers,
    client_options,
    kube_flags,
    policy_configmap,
    policy_file,
    policy_flags,
)


def register_policy(sub: Subparsers) -> None:
    p = sub.add_parser("policy", help="cluster policies: explain a Deployment's settings")
    policy = p.add_subparsers(dest="policy_command", metavar="COMMAND")
    policy.required = True
    e = policy.add_parser(
        "explain",
        help="print every effective setting of a Deployment and where it came from",
        description="Print whether canarist manages Deployment NAME and why, the cluster policy "
        "covering it (the first that matches) with its rules, and every effective setting with "
        "its source: the Deployment's own annotation, the policy's default, or canarist's "
        "built-in default. Exit 3 when the Deployment does not exist.",
    )
    kube_flags(e)
    e.add_argument("name", metavar="NAME", help="the Deployment")
    policy_flags(e, policy_help="the policies of this file instead of the cluster's",
                 follow_help="the ConfigMap holding the cluster policies (default "
                 "canarist-system/canarist-policies, key policies.yaml)")
    e.set_defaults(handler=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    from webhook.kube.policies import DEFAULT_CONFIGMAP
    from webhook.kube.policyview import run_explain

    source = policy_configmap(args) or (policy_file(args) if args.policy else DEFAULT_CONFIGMAP)
    return run_explain(client_options(args), args.name, source)
