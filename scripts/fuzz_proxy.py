"""Fuzz the proxy's request parsing with atheris (coverage-guided, libFuzzer's flags):

    .venv/bin/python scripts/fuzz_proxy.py -max_total_time=600 [CORPUS_DIR]

An empty (or new) corpus directory starts from the seed requests of ``fuzz_proxy_harness``;
without one, a corpus kept in the temporary directory is used. A finding is written to
``crash-*`` (``-artifact_prefix=DIR/`` puts it elsewhere) and belongs in
tests/proxy/test_fuzz_requests.py's FINDINGS once fixed. What must hold is
``fuzz_proxy_harness.check``. The test suite runs this for a few seconds.
"""

from __future__ import annotations

import os
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
    corpora = [a for a in args[1:] if not a.startswith("-")]
    if not corpora:  # one corpus kept between runs, in the temporary directory
        corpora = [str(Path(tempfile.gettempdir(), "canarist-fuzz-proxy-corpus"))]
        args.append(corpora[0])
    first = Path(corpora[0])
    first.mkdir(parents=True, exist_ok=True)
    if not any(first.iterdir()):  # an empty corpus starts from the seed requests
        for i, seed in enumerate(SEEDS):
            (first / f"seed{i}").write_bytes(b"\0" + seed)
    if not any(a.startswith("-dict=") for a in args):
        text = "".join('"' + "".join(f"\\x{b:02x}" for b in w) + '"\n' for w in WORDS)
        words = Path(tempfile.gettempdir(), "canarist-fuzz-proxy.dict")
        fd, part = tempfile.mkstemp(dir=words.parent, prefix=words.name)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(part, words)  # (whole, whoever else runs this at the same time)
        args.insert(1, f"-dict={words}")
    atheris.Setup(args, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
