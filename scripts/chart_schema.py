"""Keep the Kubernetes types of the chart's values.schema.json (``$defs`` named ``io.k8s.*``)
equal to the strict schemas of the oldest Kubernetes the chart supports, from the
``kubernetes-validate`` package (which ships them, generated from upstream's OpenAPI).

    python scripts/chart_schema.py          # rewrite charts/canarist/values.schema.json
    python scripts/chart_schema.py --check  # exit 1 if it is not current

The rest of the schema (canarist's own keys and descriptions) is written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.generated import ROOT, write_or_check

SCHEMA = ROOT / "charts" / "canarist" / "values.schema.json"
KUBERNETES = "1.29.0"  # the chart's kubeVersion floor
PREFIX = "io.k8s."


def upstream_defs(version: str = KUBERNETES) -> dict[str, Any]:
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    doc = json.loads((base / f"v{version}-local-strict" / "_definitions.json").read_text())
    defs: dict[str, Any] = doc["$defs"]
    return defs


def refs(node: Any) -> set[str]:
    """Names referenced as ``#/$defs/NAME`` anywhere in ``node``."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref.removeprefix("#/$defs/"))
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def closure(schema: dict[str, Any], upstream: dict[str, Any]) -> dict[str, Any]:
    """Every upstream definition the schema's own parts need, directly or not."""
    own = {k: v for k, v in schema.get("$defs", {}).items() if not k.startswith(PREFIX)}
    start = refs({k: v for k, v in schema.items() if k != "$defs"}) | refs(own)
    wanted = {n for n in start if n.startswith(PREFIX)}
    done: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in done:
            continue
        if name not in upstream:
            raise SystemExit(f"{name}: not a Kubernetes {KUBERNETES} type")
        done[name] = upstream[name]
        wanted |= {n for n in refs(upstream[name]) if n not in done}
    return dict(sorted(own.items())) | dict(sorted(done.items()))


def current_text() -> str:
    schema = json.loads(SCHEMA.read_text())
    schema["$defs"] = closure(schema, upstream_defs())
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(__doc__.splitlines()[0], SCHEMA, current_text, __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
