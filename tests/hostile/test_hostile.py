"""Every hostile input of ``tests/data/hostile/`` through every parser that reads its kind, each
bounded in time (see ``cases.py`` to add a case, ``targets.py`` to add a parser)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile.cases import CASES, HOSTILE, Case
from tests.hostile.targets import TARGETS, Env

pytestmark = pytest.mark.timeout(90)

RUNS = [
    pytest.param(case, target, id=f"{case.file}-{target.__name__}")
    for case in CASES
    for target in TARGETS[case.kind]
]


@pytest.mark.parametrize(("case", "target"), RUNS)
def test_hostile_input(
    case: Case, target: Callable[[Case, Env], None], request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    target(case, Env(request, tmp_path))


def test_every_file_has_a_case() -> None:
    files = {p.name for p in HOSTILE.iterdir() if p.is_file() and p.name != "README.md"}
    assert files == {case.file for case in CASES}


def test_every_kind_has_parsers() -> None:
    assert {case.kind for case in CASES} <= set(TARGETS)
