"""Command line: argument parsing only, one function per subcommand.

Each ``cmd_*`` function imports the module that does the work lazily, so ``canarist --help``
stays fast and the product never imports the embedded cluster unless asked to. Errors are mapped
to exit codes in one place (``main``): 0 success, 1 an operation failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from webhook import __version__
from webhook.errors import CanaristError, InvalidInput

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
                     "route-table ConfigMap, endpoints from EndpointSlices")
    p.add_argument("--namespace", default="default", help="cluster mode: namespace to watch")
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


# --- helpers -----------------------------------------------------------------------------------


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
