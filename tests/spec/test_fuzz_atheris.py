"""A few seconds of coverage-guided fuzzing (atheris) of each parser of untrusted input, in the
suite; ``scripts/fuzz.sh`` runs longer. Each target must finish without a finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz.py"


@pytest.mark.parametrize("target", ["annotations", "yaml", "routes", "review", "regex"])
def test_fuzzing_finds_nothing(target: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), target, "-max_total_time=4", "-timeout=5",
         "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done " in result.stderr
    assert not list(tmp_path.iterdir()), "findings written"
