"""The one YAML writer: what it writes reads back equal through canarist's strictest limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.spec import boundedyaml
from webhook.spec.yamldump import dump_documents, dump_yaml

SHARED = {"endpoints": ["127.0.0.1:80"]}
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def test_an_object_used_twice_is_written_out_twice_not_aliased() -> None:
    text = dump_yaml({"stable": SHARED, "canary": SHARED})
    assert "&" not in text and "*" not in text
    assert boundedyaml.load(text) == {"stable": SHARED, "canary": SHARED}


def test_multi_line_strings_are_blocks_and_keys_keep_their_order() -> None:
    text = dump_yaml({"z": 1, "steps": "- setWeight: 20\n- pause: {}\n"})
    assert text == "z: 1\nsteps: |\n  - setWeight: 20\n  - pause: {}\n"


def test_block_depth_writes_the_leaves_in_flow_style() -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "30s"}}]
    assert dump_yaml(steps, block_depth=2) == "- setWeight: 20\n- pause: {duration: 30s}\n"


def test_documents_are_separated() -> None:
    text = dump_documents([{"a": "é"}, {"b": [1]}])
    assert text == "a: é\n---\nb:\n- 1\n"
    assert [d.value for d in boundedyaml.documents(text, boundedyaml.MANIFEST)] == [
        {"a": "é"}, {"b": [1]}]


@pytest.mark.parametrize("block_depth", [None, 2])
@given(value=values)
@settings(max_examples=500)
def test_anything_written_reads_back_equal(block_depth: int | None, value: Any) -> None:
    assert boundedyaml.load(dump_yaml(value, block_depth=block_depth),
                            boundedyaml.Limits(depth=100)) == value
