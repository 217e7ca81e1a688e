"""``canarist convert``: Argo Rollouts manifests as annotated Deployments (``webhook.convert``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from webhook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers
from webhook.errors import InvalidInput

if TYPE_CHECKING:
    from webhook.convert import Source

MAX_FILES = 1000
SUFFIXES = (".yaml", ".yml", ".json")


def register_convert(sub: Subparsers) -> None:
    p = sub.add_parser(
        "convert",
        help="turn Argo Rollouts manifests into Deployments annotated for canarist",
        description="Read Rollouts, AnalysisTemplates and the Services and routing objects "
        "around them; write what to apply instead on stdout, and on stderr one line per field: "
        "converted, changed (how), or not convertible (why, and what to do instead). Exit 0 "
        "when everything converted, 1 when something did not, 2 for bad input.",
    )
    p.add_argument("-f", "--filename", action="append", required=True, metavar="FILE",
                   help="YAML/JSON file, a directory of them, or - for stdin (repeatable)")
    p.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml",
                   help="yaml (documents) or json (a v1 List); default yaml")
    p.add_argument("--strict", action="store_true",
                   help="write nothing unless everything converts")
    p.set_defaults(handler=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from webhook.convert import convert, dump, summary

    result = convert(_sources(args.filename))
    for note in result.notes:
        print(note.line(), file=sys.stderr)
    print(f"canarist convert: {summary(result.notes)}", file=sys.stderr)
    if not result.complete and args.strict:
        print("canarist convert: --strict: nothing written", file=sys.stderr)
        return EXIT_FAILED
    sys.stdout.write(dump(result.objects, args.output))
    return EXIT_OK if result.complete else EXIT_FAILED


def _sources(names: list[str]) -> list[Source]:
    from webhook.convert import Source
    from webhook.convert.loading import MAX_BYTES

    files: list[str] = []
    for name in names:
        path = Path(name)
        if name != "-" and path.is_dir():
            files.extend(str(p) for p in sorted(path.iterdir())
                         if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(name)
        if len(files) > MAX_FILES:
            raise InvalidInput(f"more than {MAX_FILES} input files")
    return [Source(f, _read(f, MAX_BYTES)) for f in files]


def _read(name: str, limit: int) -> str:
    """At most ``limit`` bytes of the input (one more tells it is too large), as UTF-8."""
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
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from exc
