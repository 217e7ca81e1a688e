"""`canarist convert`: files, directories and stdin; yaml or json; exit codes; --strict; the
report on stderr; bad input as one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from webhook.cli import main

DATA = Path(__file__).resolve().parent.parent / "data" / "argo"


def convert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_directory_converts_with_the_report_on_stderr(capsys) -> None:
    code, out, err = convert(capsys, "-f", str(DATA / "istio-host-split"))
    assert code == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds == ["Service", "Service", "VirtualService", "Deployment"]
    lines = err.splitlines()
    assert "Rollout istio-host-split: spec.strategy.canary.steps[0].setWeight: converted: " \
        "verbatim" in lines
    assert lines[-1] == "canarist convert: 10 converted, 0 changed, 0 not convertible"


def test_json_output_is_a_list(capsys, tmp_path: Path) -> None:
    code, out, _ = convert(capsys, "-f", str(DATA / "nginx"), "-o", "json")
    body = json.loads(out)
    assert code == 0 and body["kind"] == "List"
    assert [i["kind"] for i in body["items"]] == ["Ingress", "Deployment", "Service", "Service"]


def test_several_files_and_stdin(capsys, monkeypatch) -> None:
    text = (DATA / "web-analysis" / "analysistemplate-web-background.yaml").read_text()
    monkeypatch.setattr(sys, "stdin", type("S", (), {"buffer": __import__("io").BytesIO(
        text.encode())})())
    code, out, err = convert(capsys, "-f", str(DATA / "web-analysis" /
                                               "rollout-background-analysis.yaml"), "-f", "-")
    assert code == 1  # insecure: true is not convertible
    assert "not convertible: canarist's provider has no insecure" in err
    assert [d["kind"] for d in yaml.safe_load_all(out)] == ["Deployment"]


def test_strict_writes_nothing_when_something_does_not_convert(capsys) -> None:
    code, out, err = convert(capsys, "-f", str(DATA / "experiment-step"), "--strict")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "canarist convert: --strict: nothing written"
    code, out, _ = convert(capsys, "-f", str(DATA / "istio-host-split"), "--strict")
    assert code == 0 and out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [1]\nb: *a\n", "YAML aliases are not accepted (*a)"),
        ("apiVersion: v1\nkind: Rollout\n", "in.yaml[0] (line 1).metadata: is required"),
        ("\xff", "not UTF-8 text"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(capsys, tmp_path: Path, text: str, message: str
                                            ) -> None:
    path = tmp_path / "in.yaml"
    path.write_bytes(text.encode("latin-1") if text == "\xff" else text.encode())
    code, out, err = convert(capsys, "-f", str(path))
    assert code == 2 and out == ""
    assert message in err and err.startswith("canarist: ") and "Traceback" not in err


def test_a_missing_file_is_exit_two(capsys, tmp_path: Path) -> None:
    code, _, err = convert(capsys, "-f", str(tmp_path / "nope.yaml"))
    assert code == 2 and "cannot read" in err


def test_a_broken_published_example_is_bad_input_with_its_place() -> None:
    # Argo's own Linkerd example holds `{{args.linkerd-enabled}}` unquoted: a mapping as a key.
    proc = subprocess.run([sys.executable, "-m", "webhook.cli", "convert", "-f",
                           str(DATA / "smi-linkerd")], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().endswith(
        "rollout-linkerd.yaml[4] (line 101, column 39): YAML does not parse: a mapping key must "
        "be a string")
    assert "Traceback" not in proc.stderr


def test_input_larger_than_the_bound_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "webhook.cli", "convert", "-f", "/dev/zero"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "is larger than" in proc.stderr
