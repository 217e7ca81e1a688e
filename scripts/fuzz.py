#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers of untrusted input.

    .venv/bin/python scripts/fuzz.py TARGET [libFuzzer flags...] [CORPUS_DIR...]
    .venv/bin/python scripts/fuzz.py annotations -max_total_time=60 -timeout=5

Targets: ``annotations`` (every canarist annotation through ``parse_canary_spec``), ``yaml``
(``boundedyaml`` with both kinds of limits), ``routes`` (route tables), ``review`` (whole
AdmissionReview bodies through the webhook's decision), ``regex`` (header-route patterns,
compiled and matched). An input that raises anything but the parser's own refusal, or runs
past ``-timeout`` seconds, is a finding: libFuzzer writes it as ``crash-*`` / ``timeout-*``
under ``-artifact_prefix``; make it a file of ``tests/data/hostile/`` and a ``Case``.
The hostile inputs of ``tests/data/hostile/`` seed every run. ``scripts/fuzz.sh`` runs all
targets for longer; the test suite runs each for a few seconds
(``tests/spec/test_fuzz_atheris.py``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["webhook"]):
    import yaml

    from webhook.admission.mutate import review
    from webhook.errors import ConfigError, InvalidInput, SpecError
    from webhook.spec import boundedyaml, names
    from webhook.spec.canary import parse_canary_spec
    from webhook.spec.matches import InvalidRegex, StringMatch
    from webhook.spec.routetable import parse_route_table

HOSTILE = ROOT / "tests" / "data" / "hostile"
KEYS = sorted(names.USER_ANNOTATIONS)
BASE_REVIEW = (ROOT / "tests" / "data" / "reviews" / "22-update-new-canary.request.json")


def fuzz_annotations(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    annotations = {}
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        key = KEYS[fdp.ConsumeIntInRange(0, len(KEYS) - 1)]
        annotations[key] = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 4096))
    with contextlib.suppress(SpecError):
        parse_canary_spec(annotations, deployment="web")


def fuzz_yaml(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    limits = boundedyaml.DOCUMENT if fdp.ConsumeBool() else boundedyaml.ANNOTATION
    text = fdp.ConsumeUnicodeNoSurrogates(len(data))
    with contextlib.suppress(yaml.YAMLError):
        boundedyaml.load_all(text, limits)


def fuzz_routes(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    with contextlib.suppress(ConfigError):
        parse_route_table(text, "routes.yaml")


def fuzz_review(data: bytes) -> None:
    """Bytes spliced into a real review's annotations, or a whole body."""
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        body = fdp.ConsumeBytes(len(data))
    else:
        base = BASE_REVIEW.read_bytes()
        cut = base.index(b'"canarist.io/steps": ') + len(b'"canarist.io/steps": ')
        body = base[:cut] + fdp.ConsumeBytes(len(data)) + base[cut:]
    with contextlib.suppress(InvalidInput):
        review(body).response.to_json()


def fuzz_regex(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    pattern = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 256))
    value = fdp.ConsumeUnicodeNoSurrogates(4096)
    with contextlib.suppress(InvalidRegex):
        StringMatch.of("regex", pattern).matches(value)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "annotations": fuzz_annotations,
    "yaml": fuzz_yaml,
    "routes": fuzz_routes,
    "review": fuzz_review,
    "regex": fuzz_regex,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags...]")
    target = sys.argv[1]
    seeds = ",".join(str(p) for p in sorted(HOSTILE.iterdir()) if p.name != "README.md")
    argv = [sys.argv[0], *sys.argv[2:]]
    if not any(arg.startswith("-seed_inputs=") for arg in argv):
        argv.append(f"-seed_inputs={seeds}")
    atheris.Setup(argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
