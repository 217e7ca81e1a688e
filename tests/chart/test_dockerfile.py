"""The Dockerfile, checked without a container engine: its instructions (multi-stage, slim
Python 3.11, the fast extra, a non-root user matching the chart, canarist as the entrypoint, OCI
labels), the wheel it installs (built here with pip), and the commands the chart runs in it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.chart.render import CHART, ROOT, render

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line ends the file"
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


def test_the_instructions() -> None:
    text = DOCKERFILE.read_text()
    args = dict(a[1].split("=", 1) for a in instructions(text) if a[0] == "ARG" and "=" in a[1])
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    build, final = stages(text)
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    build_runs = " ".join(a for i, a in build if i == "RUN")
    assert 'pip wheel --no-cache-dir --wheel-dir /wheels ".[fast]"' in build_runs
    runs = " ".join(a for i, a in final if i == "RUN")
    assert '--no-index --find-links /wheels "canarist[fast]"' in runs
    assert "from=build" in runs  # the wheels come from the build stage, and stay out
    # Non-root, the uid/gid the chart's podSecurityContext runs as.
    [user] = [a for i, a in final if i == "USER"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert user == f"{values['runAsUser']}:{values['runAsGroup']}"
    assert "--uid 65532 --gid 65532" in runs
    [entrypoint] = [a for i, a in final if i == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["canarist"]
    labels = " ".join(a for i, a in final if i == "LABEL")
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_build_context_is_what_the_build_copies() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") + 1:ignored.index("*") + 4] == [
        "!pyproject.toml", "!README.md", "!webhook/"]
    copies = [shlex.split(a)[:-1] for i, a in instructions(DOCKERFILE.read_text()) if i == "COPY"]
    assert sorted(p for c in copies for p in c) == ["README.md", "pyproject.toml", "webhook"]


@pytest.mark.slow
def test_the_wheel_builds_with_the_fast_extra(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True, capture_output=True,
                   timeout=300)
    [wheel] = tmp_path.glob("canarist-*.whl")
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert wheel.name.startswith(f"canarist-{version}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(f"canarist-{version}.dist-info/METADATA").decode()
        entry = zf.read(f"canarist-{version}.dist-info/entry_points.txt").decode()
    assert "canarist = webhook.cli:main" in entry
    assert "Provides-Extra: fast" in meta
    assert "Requires-Dist: uvloop>=0.19; extra == \"fast\"" in meta
    # What the processes need at run time beyond .py files.
    assert {"webhook/cli/__init__.py", "webhook/py.typed"} <= names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_commands_the_chart_runs_are_canarists() -> None:
    help_text = subprocess.run([sys.executable, "-m", "webhook.cli", "--help"], check=True,
                               capture_output=True, text=True, timeout=60).stdout
    commands = set()
    for values in ({}, {"proxy": {"enabled": True}}):
        for obj in render(values):
            spec = (obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment"
                    else obj["spec"] if obj["kind"] == "Pod" else None)
            for c in (spec or {}).get("containers", []):
                commands.add(c["args"][0])
    assert commands == {"webhook", "reconcile", "proxy", "check-webhook"}
    for command in commands:
        assert f"    {command} " in help_text or f"    {command}\n" in help_text, command
