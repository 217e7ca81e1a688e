"""What the benchmarks share: the repository's root, percentiles and medians of runs, ratios,
the CPU and memory a process used (from /proc), and ``canarist up`` in a process of its own.

The scripts put ``ROOT`` on ``sys.path`` before importing this module or canarist.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def median_of(
    runs: Sequence[Mapping[str, Any]], keys: Iterable[str] | None = None, digits: int = 3
) -> dict[str, float]:
    """The median of each of ``keys`` (default: the first run's) over ``runs``, rounded."""
    names = list(keys) if keys is not None else list(runs[0])
    return {k: round(float(statistics.median(float(r[k]) for r in runs)), digits) for k in names}


def ratio(a: float, b: float, digits: int = 3) -> float | None:
    """``a / b`` rounded; ``None`` when ``b`` is not positive (nothing to compare with)."""
    return round(a / b, digits) if b > 0 else None


# --- a process's resources ------------------------------------------------------------------------


def thread_cpu_ns(pid: int) -> int:
    """CPU time a process has used (all its threads), in ns, from the scheduler's accounting."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (nginx's workers), in seconds."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the embedded cluster -------------------------------------------------------------------------


@contextmanager
def cluster_process(kubeconfig: str | Path, without: str) -> Iterator[subprocess.Popen[str]]:
    """``canarist up --without WITHOUT`` (every component when empty) in its own process, from
    its ready line until the end of the block (then SIGTERM)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhook.cli", "up", "--kubeconfig", str(kubeconfig),
         *(["--without", without] if without else [])],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if "API server" not in line:
            raise SystemExit(f"canarist up did not start: {line!r}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def service_account_kubeconfig(admin: str | Path, namespace: str, name: str,
                               path: str | Path) -> str:
    """A kubeconfig (mode 0600) for the admin kubeconfig's cluster that authenticates as the
    ServiceAccount ``namespace/name`` with a token kubectl asks for (e.g. the reconciler's, the
    only user the webhook of ``canarist up`` lets write ``canarist.io/status``)."""
    import yaml

    token = subprocess.run(
        ["kubectl", "--kubeconfig", str(admin), "-n", namespace, "create", "token", name,
         "--duration", "24h"], capture_output=True, text=True, timeout=60, check=True).stdout
    doc = yaml.safe_load(Path(admin).read_text())
    doc["users"] = [{"name": name, "user": {"token": token.strip()}}]
    for context in doc["contexts"]:
        context["context"]["user"] = name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(yaml.safe_dump(doc))
    return str(path)
