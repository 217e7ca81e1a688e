"""Run the official Python client's own e2e tests against ``canarist up``.

The tests are not part of this repository: point the script at a checkout of
kubernetes-client/python (its ``kubernetes/e2e_test``). They import themselves as
``kubernetes.e2e_test``, so the script lays them into a temporary copy of the installed
``kubernetes`` package, starts ``canarist up`` with a fresh kubeconfig and runs pytest on them:

    .venv/bin/python scripts/client_e2e.py --checkout ~/src/kubernetes-client-python [-- -k jobs]

docs/cluster.md lists which of them are out of scope for the embedded cluster, and why.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", required=True, type=Path,
                        help="a checkout of github.com/kubernetes-client/python")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()
    tests = args.checkout / "kubernetes" / "e2e_test"
    if not (tests / "base.py").is_file():
        parser.error(f"{tests} does not hold the client's e2e tests")
    with tempfile.TemporaryDirectory(prefix="client-e2e-") as tmp:
        work = Path(tmp)
        package = work / "kubernetes"
        shutil.copytree(Path(kubernetes.__file__).parent, package)
        shutil.copytree(tests, package / "e2e_test")
        kubeconfig = work / "kubeconfig"
        up = subprocess.Popen([sys.executable, "-m", "webhook.cli", "up", "--kubeconfig",
                               str(kubeconfig)], stdout=subprocess.PIPE, text=True)
        try:
            assert up.stdout is not None
            print(up.stdout.readline().strip(), flush=True)
            env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(work))
            return subprocess.run(
                [sys.executable, "-m", "pytest", "kubernetes/e2e_test", "-q", "-rfEs",
                 "-p", "no:cacheprovider", *args.pytest_args],
                cwd=work, env=env, check=False).returncode
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
