"""docs/install.md's values reference is generated from the schema and current; the doc names
every top-level value and the commands it tells people to run exist."""

from __future__ import annotations

import re

from scripts import chart_docs
from tests.chart.render import CHART, ROOT
from webhook.cli import build_parser

DOC = ROOT / "docs" / "install.md"


def test_the_values_reference_is_current() -> None:
    assert chart_docs.main(["--check"]) == 0


def test_every_key_of_values_yaml_is_in_the_reference() -> None:
    import yaml

    def paths(node: object, prefix: str = "") -> list[str]:
        if not isinstance(node, dict) or not node:
            return [prefix]
        out = [prefix] if prefix else []
        for key, value in node.items():
            out += paths(value, f"{prefix}.{key}" if prefix else key)
        return out

    text = DOC.read_text()
    for path in paths(yaml.safe_load((CHART / "values.yaml").read_text())):
        if path.count(".") <= 3 and not re.search(r"\.(requests|limits|cpu|memory)", path) \
                and not path.startswith(("podSecurityContext.", "securityContext.")):
            assert f"`{path}`" in text, path


def test_the_canarist_commands_in_the_doc_parse() -> None:
    parser = build_parser()
    lines = re.findall(r"^\s*\$ (canarist [^\n|#]+)", DOC.read_text(), flags=re.M)
    assert lines
    for line in lines:
        parser.parse_args(line.split()[1:])
