"""The hostile inputs of ``tests/data/hostile/`` and what every parser must say about them.

A file is named ``<kind>--<name>.<ext>``; its kind decides which parsers read it
(``targets.TARGETS``):

=====================  ==========================================================================
kind                   the file holds
=====================  ==========================================================================
``steps``              a ``canarist.io/steps`` value
``analysis``           a ``canarist.io/analysis`` value
``nginx-annotations``  a ``canarist.io/nginx-annotations`` value
``annotations``        a JSON object: the Deployment's ``canarist.io/`` annotations, all of them
``review``             a whole AdmissionReview request body
``routes``             a route table (routes file, route-table ConfigMap)
``manifest``           a YAML file for ``canarist validate`` / ``render``
=====================  ==========================================================================

To add a case: put the file in ``tests/data/hostile/`` (generated ones: add them to
``make_cases.py`` and run it) and add a ``Case`` below with what every refusal must say
(``expect``), or ``expect=None`` when the input is valid and must be accepted. A file without
a ``Case`` fails ``test_every_file_has_a_case``. To add a parser, add a function to
``targets.py`` and its name to ``TARGETS`` for the kinds it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
ALIASES = "anchors and aliases are not allowed"


@dataclass(frozen=True)
class Case:
    file: str
    expect: str | None  # in every refusal; None: accepted
    why: str = ""

    @property
    def kind(self) -> str:
        return self.file.split("--", 1)[0]

    @property
    def path(self) -> Path:
        return HOSTILE / self.file

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def __str__(self) -> str:
        return self.file


CASES: tuple[Case, ...] = (
    Case("steps--alias-bomb.yaml", ALIASES, "billion laughs: hung every component"),
    Case("analysis--alias-bomb.yaml", ALIASES),
    Case("steps--merge-key.yaml", ALIASES, "a merge key needs an alias"),
    Case("steps--flow-brackets-25k.yaml", "nested more than 64 levels deep",
         "1.7 s of event loop in PyYAML's quadratic scanner"),
    Case("steps--brackets-1e5.yaml", "larger than 65536"),
    Case("steps--deep-block.yaml", "nested more than 64 levels deep"),
    Case("nginx-annotations--brackets-1e5.txt", "larger than 65536",
         "a RecursionError and a 500 with a 231 KB traceback"),
    Case("analysis--nan-min.yaml", "must be a finite number", "switched the gate off"),
    Case("analysis--inf-max.yaml", "must be a finite number"),
    Case("steps--nan-pause.yaml", "must be a finite number of seconds",
         "wedged the release with no Event"),
    Case("steps--arabic-digits.yaml", "invalid duration", "read as 30 s"),
    Case("steps--catastrophic-regex.yaml", None, "valid RE2; matched in linear time"),
    Case("steps--huge-repeat.yaml", "repetition count 4294967296 is over 1000",
         "OverflowError, a 500"),
    Case("steps--lookahead.yaml", "look-around and back-references are not supported"),
    Case("annotations--many-unknown.json", "more problems",
         "2000 unknown annotations: each a suggestion to compute"),
    Case("annotations--status-brackets.json", None, "a garbled status reads as empty"),
    Case("review--deep-template-600.json", None, "a RecursionError and a 500"),
    Case("review--deep-template-3000.json", "nested too deeply to decode"),
    Case("routes--alias-bomb.yaml", ALIASES),
    Case("routes--deep-flow.yaml", "nested more than 64 levels deep"),
    Case("routes--nan-weight.yaml", "routes[0].weight: must be an integer"),
    Case("routes--arabic-port.yaml", "routes[0].stable.endpoints[0]: must be HOST:PORT"),
    Case("routes--huge-repeat.yaml", "repetition count 4294967296 is over 1000"),
    Case("routes--catastrophic-regex.yaml", None),
    Case("manifest--alias-bomb.yaml", "aliases expand to more than 100000 nodes"),
    Case("manifest--bomb-in-annotation.yaml", ALIASES),
    Case("manifest--deep.yaml", "nested more than 100 levels deep"),
)
