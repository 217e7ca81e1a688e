"""Command line: argument parsing only, one function per subcommand.

The subcommands are grouped in ``tools`` (validate, mutate, certs), ``serve`` (proxy, webhook,
up, demo), ``release`` (reconcile, render, status, list, the actions and undo), ``convert``,
``dashboard`` and ``policy`` (policy explain); the flags they share are in ``common``. Each
``cmd_*`` function imports the module that does the work lazily, so ``canarist --help`` stays
fast and the product never imports the embedded cluster unless asked to. Errors are mapped to
exit codes in one place (``main``): 0 success, 1 an operation failed, 2 bad input. The release
controls (``status``, ``list``, ``promote``..., ``undo``) also return 3 when the Deployment does
not exist.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence

from webhook import __version__
from webhook.cli import convert, dashboard, policy, release, serve, tools
from webhook.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Handler, Registrar
from webhook.errors import CanaristError, InvalidInput

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "build_parser", "main"]

# A server's address already in use or not on this machine: a flag to change, not a crash.
_CANNOT_LISTEN = (errno.EADDRINUSE, errno.EADDRNOTAVAIL)

# The order of ``canarist --help``.
_REGISTRARS: tuple[Registrar, ...] = (
    tools.register_validate,
    serve.register_proxy,
    serve.register_webhook,
    tools.register_mutate,
    tools.register_certs,
    tools.register_check_webhook,
    serve.register_up,
    release.register_reconcile,
    release.register_render,
    serve.register_demo,
    release.register_status,
    release.register_list,
    release.register_actions,
    release.register_undo,
    convert.register_convert,
    dashboard.register_dashboard,
    policy.register_policy,
)


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
    except OSError as exc:
        if exc.errno not in _CANNOT_LISTEN:
            raise
        print(f"canarist: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
