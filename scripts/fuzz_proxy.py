"""Fuzz the proxy's request parsing with atheris (coverage-guided, libFuzzer's flags):

    .venv/bin/python scripts/fuzz_proxy.py -max_total_time=600 [CORPUS_DIR]

Without a corpus directory it starts from the seed requests of ``fuzz_proxy_harness``; a
finding is written to ``crash-*`` (``-artifact_prefix=DIR/`` puts it elsewhere) and belongs in
tests/proxy/test_fuzz_requests.py's FINDINGS once fixed. What must hold is
``fuzz_proxy_harness.check``. The test suite runs this for a few seconds.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import atheris

    sys.path.insert(0, str(ROOT))
    # only the proxy's modules (and the harness) are instrumented: all of them takes a minute
    with atheris.instrument_imports(include=["webhook.proxy", "scripts.fuzz_proxy_harness"]):
        from scripts.fuzz_proxy_harness import SEEDS, WORDS, fuzz_one
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus named: start from SEEDS
        seeds = tempfile.mkdtemp(prefix="fuzz-proxy-")
        for i, seed in enumerate(SEEDS):
            Path(seeds, f"seed{i}").write_bytes(b"\0" + seed)
        args.append(seeds)
    if not any(a.startswith("-dict=") for a in args):
        words = Path(tempfile.mkdtemp(prefix="fuzz-proxy-"), "http.dict")
        words.write_text("".join('"' + "".join(f"\\x{b:02x}" for b in w) + '"\n'
                                 for w in WORDS))
        args.insert(1, f"-dict={words}")
    atheris.Setup(args, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
