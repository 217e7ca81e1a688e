"""What the subcommand modules share: exit codes, the cluster flags, reading input files."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.kube.config import ClientOptions
    from webhook.kube.policyfeed import ConfigMapRef
    from webhook.policy import PolicySet

Handler = Callable[[argparse.Namespace], int]
# argparse's class is not subscriptable at run time: the alias is a string.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Registrar = Callable[[Subparsers], None]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

KUBECONFIG_HELP = "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
CONTEXT_HELP = "kubeconfig context to use"
NAMESPACE_HELP = "namespace (default: the context's, else default)"


# The three flags that pick a cluster, each defined here once. ``container`` may be a parser or
# an argument group (``proxy`` puts --kubeconfig in a group exclusive with --routes).


def kubeconfig_flag(container: argparse._ActionsContainer, text: str = KUBECONFIG_HELP) -> None:
    container.add_argument("--kubeconfig", metavar="FILE", help=text)


def context_flag(p: argparse.ArgumentParser, text: str = CONTEXT_HELP) -> None:
    p.add_argument("--context", metavar="NAME", help=text)


def namespace_flag(p: argparse.ArgumentParser, text: str = NAMESPACE_HELP) -> None:
    p.add_argument("-n", "--namespace", metavar="NS", help=text)


def kube_flags(p: argparse.ArgumentParser, *, namespace: str | None = NAMESPACE_HELP) -> None:
    """--kubeconfig, --context and (unless ``namespace`` is None) -n with that help text."""
    kubeconfig_flag(p)
    context_flag(p)
    if namespace is not None:
        namespace_flag(p, namespace)


def client_options(args: argparse.Namespace, namespace: str | None = None) -> ClientOptions:
    from webhook.kube.config import ClientOptions

    return ClientOptions(kubeconfig=args.kubeconfig, context=args.context,
                         namespace=namespace or getattr(args, "namespace", None))


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def integer_arg(text: str) -> int:
    """``type=`` of an integer flag: ASCII digits only (``int()`` would take "٣٠" as 30)."""
    if not _INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}")
    return int(text)


def number_arg(text: str) -> float:
    """``type=`` of a number flag: a finite, non-negative ASCII number (``float()`` would take
    "nan", "inf" and "٣٠")."""
    value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


POLICY_HELP = "cluster policies from this YAML file (a policies: list; docs/policy.md)"
CONFIGMAP_HELP = ("follow the cluster policies in this ConfigMap (its key policies.yaml, or KEY), "
                  "as the Helm chart renders them: a change applies within seconds")


def policy_flags(p: argparse.ArgumentParser, *, follow: bool = True,
                 policy_help: str = POLICY_HELP, follow_help: str = CONFIGMAP_HELP) -> None:
    """--policy FILE and (with ``follow``) --policy-configmap NS/NAME[:KEY], exclusive."""
    group = p.add_mutually_exclusive_group() if follow else p
    group.add_argument("--policy", metavar="FILE", help=policy_help)
    if follow:
        group.add_argument("--policy-configmap", metavar="NS/NAME[:KEY]", help=follow_help)


def policy_file(args: argparse.Namespace) -> PolicySet:
    """The policies of ``--policy FILE`` (none without the flag); a bad file is exit 2."""
    from webhook.policy import EMPTY, parse_policies

    name = getattr(args, "policy", None)
    if not name:
        return EMPTY
    return parse_policies(read_input(name), source=name)


def policy_configmap(args: argparse.Namespace) -> ConfigMapRef | None:
    from webhook.kube.policyfeed import ConfigMapRef

    text = getattr(args, "policy_configmap", None)
    return ConfigMapRef.parse(text) if text else None


def split_names(values: list[str]) -> list[str]:
    """The values of a repeatable flag that also takes comma-separated names."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def read_bytes(name: str, limit: int) -> bytes:
    """File ``name`` (``-``: stdin), reading at most ``limit`` bytes: a larger input is
    refused, never read whole (``/dev/zero`` included)."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror}") from exc
    if len(data) > limit:
        raise InvalidInput(f"{name}: is larger than {limit} bytes")
    return data


def read_input(name: str, limit: int | None = None) -> str:
    """File ``name`` (``-``: stdin) as UTF-8 text (a byte order mark dropped), bounded as
    ``read_bytes`` (default: a manifest's ``spec.manifests.MAX_BYTES``)."""
    if limit is None:
        from webhook.spec.manifests import MAX_BYTES

        limit = MAX_BYTES
    data = read_bytes(name, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from exc
