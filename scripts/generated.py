"""The command line of a script that writes a generated file of the repository: rewrite it, or
with ``--check`` exit 1 when it is not what the script would write (the tests run that)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(description: str, target: Path, current_text: Callable[[], str],
                   script: str, argv: list[str] | None = None) -> int:
    """Write ``current_text()`` to ``target``; with ``--check`` only compare (exit 1 if they
    differ, naming ``script`` to run)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if {target.relative_to(ROOT)} is not current")
    args = parser.parse_args(argv)
    text = current_text()
    if args.check:
        if target.read_text() != text:
            print(f"{target.relative_to(ROOT)} is not current: run "
                  f"{Path(script).resolve().relative_to(ROOT)}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0
