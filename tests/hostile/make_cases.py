"""Writes the generated inputs of ``tests/data/hostile/`` (run it after changing one):

    .venv/bin/python -m tests.hostile.make_cases

Hand-written cases live in the same directory; this only (re)writes the files it names.
"""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
REVIEWS = Path(__file__).resolve().parent.parent / "data" / "reviews"


def laughs(levels: int = 9, width: int = 9, indent: str = "") -> str:
    """Billion laughs: 9**9 strings from a few hundred bytes."""
    lines = [f'{indent}a0: &a0 [{", ".join(["lol"] * width)}]']
    for i in range(1, levels):
        lines.append(f"{indent}a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def deep_review(depth: int) -> str:
    body = json.loads((REVIEWS / "22-update-new-canary.request.json").read_text())
    head, tail = '{"x":' * depth, "1" + "}" * depth
    marker = "DEEP"
    body["request"]["object"]["spec"]["template"]["spec"]["deep"] = marker
    return json.dumps(body).replace(f'"{marker}"', head + tail)


def manifest(annotations: dict[str, str]) -> str:
    lines = [
        "apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: web",
        "  labels: {canarist.io/enabled: 'true'}", "  annotations:",
    ]
    for key, value in annotations.items():
        lines.append(f"    {key}: |")
        lines.extend(f"      {line}" for line in value.splitlines())
    lines += ["spec:", "  selector: {matchLabels: {app: web}}",
              "  template:", "    metadata: {labels: {app: web}}",
              "    spec: {containers: [{name: app, image: demo:v1}]}"]
    return "\n".join(lines) + "\n"


GENERATED: dict[str, str] = {
    "steps--alias-bomb.yaml": laughs(),
    "analysis--alias-bomb.yaml": laughs(),
    "steps--flow-brackets-25k.yaml": "[" * 25_000,
    "steps--brackets-1e5.yaml": "[" * 100_000,
    "nginx-annotations--brackets-1e5.txt": "[" * 100_000,
    "steps--deep-block.yaml": "".join(f"{' ' * i}- a:\n" for i in range(0, 400, 2)),
    "routes--alias-bomb.yaml": "routes:\n- name: web\n  stable: {endpoints: ['127.0.0.1:9']}\n"
    + laughs(indent="  "),
    "routes--deep-flow.yaml": "routes: " + "[" * 50_000,
    "review--deep-template-600.json": deep_review(600),
    "review--deep-template-3000.json": deep_review(3000),
    "manifest--alias-bomb.yaml": laughs(),
    "manifest--bomb-in-annotation.yaml": manifest({"canarist.io/steps": laughs()}),
    "manifest--deep.yaml": "a: " + "[" * 50_000,
}


def main() -> None:
    HOSTILE.mkdir(parents=True, exist_ok=True)
    for name, text in GENERATED.items():
        (HOSTILE / name).write_text(text, encoding="utf-8")
        print(f"wrote {name} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
