"""Reading untrusted manifests: no alias expansion, bounded size, count and depth, duplicate keys
refused, values JSON can carry; every error names the input, the document and the line."""

from __future__ import annotations

import time

import pytest

from webhook.convert.loading import MAX_DEPTH, MAX_DOCUMENTS, Source, load
from webhook.errors import InvalidInput

OBJ = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
BILLION_LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}] " for i in range(8)]
)


def problems(text: str, name: str = "in.yaml") -> list[str]:
    with pytest.raises(InvalidInput) as exc:
        load([Source(name, text)])
    return [str(p) for p in exc.value.problems]


def test_objects_keep_their_input_order_index_and_line() -> None:
    docs = load([Source("a.yaml", f"# c\n{OBJ}---\n---\n{OBJ}"), Source("b.yaml", OBJ)])
    assert [(d.where, d.line) for d in docs] == [("a.yaml[0]", 2), ("a.yaml[1]", 7),
                                                 ("b.yaml[0]", 1)]


def test_a_list_is_flattened() -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "- {apiVersion: v1, kind: Service, metadata: {name: a}}\n"
            "- {apiVersion: v1, kind: Service, metadata: {name: b}}\n")
    assert [d.obj["metadata"]["name"] for d in load([Source("l", text)])] == ["a", "b"]


def test_json_input() -> None:
    docs = load([Source("j", '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}')])
    assert docs[0].obj["kind"] == "Service"


def test_an_alias_bomb_is_refused_at_once_with_its_place() -> None:
    start = time.monotonic()
    text = f"{OBJ}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n" + "\n".join(
        "  " + line for line in BILLION_LAUGHS.splitlines())
    found = problems(text)
    assert time.monotonic() - start < 2
    assert len(found) == 1
    assert found[0].startswith("in.yaml[1] (line 10, column 10)")
    assert "YAML aliases are not accepted (*a)" in found[0]


def test_a_merge_key_alias_is_refused() -> None:
    text = "base: &b {a: 1}\napiVersion: v1\nkind: Service\nmetadata:\n  <<: *b\n  name: x\n"
    assert "YAML aliases are not accepted (*b)" in problems(text)[0]


def test_an_anchor_without_alias_is_fine() -> None:
    assert load([Source("x", "apiVersion: v1\nkind: Service\nmetadata: &m {name: web}\n")])


def test_deep_nesting_is_refused() -> None:
    text = OBJ + "spec: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert f"nested more than {MAX_DEPTH} levels deep" in problems(text)[0]


def test_very_deep_nesting_does_not_overflow_the_stack() -> None:
    text = OBJ + "spec: " + "[" * 100_000 + "\n"
    assert "in.yaml[0]" in problems(text)[0]


def test_duplicate_keys_are_refused_with_the_line() -> None:
    found = problems("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nkind: Pod\n")
    assert found == ["in.yaml[0] (line 4, column 1): YAML does not parse: duplicate key 'kind'"]


def test_too_many_documents() -> None:
    found = problems(f"{OBJ}---\n" * (MAX_DOCUMENTS + 1))
    assert f"more than {MAX_DOCUMENTS} documents" in found[0]


def test_too_large() -> None:
    assert "is larger than" in problems("# " + "x" * (5 * 1024 * 1024))[0]


def test_timestamps_stay_strings_and_numbers_must_be_finite() -> None:
    docs = load([Source("t", OBJ + "data: {when: 2024-01-02, n: 1.5}\n")])
    assert docs[0].obj["data"] == {"when": "2024-01-02", "n": 1.5}
    assert "'.nan' is not a finite number" in problems(OBJ + "data: {n: .nan}\n")[0]
    assert "'.inf' is not a finite number" in problems(OBJ + "data: {n: .inf}\n")[0]


def test_scalar_keys_become_strings_and_other_keys_are_refused() -> None:
    docs = load([Source("t", OBJ + "data: {80: a, true: b}\n")])
    assert docs[0].obj["data"] == {"80": "a", "true": "b"}
    assert "a mapping key must be a string" in problems(OBJ + "data: {[a]: b}\n")[0]


def test_binary_and_sets_are_refused() -> None:
    assert "YAML type tag:yaml.org,2002:binary" in problems(OBJ + "data: !!binary aGk=\n")[0]
    assert "tag:yaml.org,2002:set" in problems(OBJ + "data: !!set {a}\n")[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n", "in.yaml[0] (line 1): must be an object (a YAML mapping)"),
        ("kind: Service\nmetadata: {name: a}\n",
         "in.yaml[0] (line 1).apiVersion: is required (a string)"),
        ("apiVersion: v1\nkind: Service\n",
         "in.yaml[0] (line 1).metadata: is required (a mapping)"),
        ("apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n",
         "in.yaml[0] (line 1).metadata.name: is required (a string)"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {v: 1}}\n",
         "in.yaml[0] (line 1).metadata.labels.v: must be a string, got int"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a, annotations: [x]}\n",
         "in.yaml[0] (line 1).metadata.annotations: must be a mapping"),
        ("a: [\n", "in.yaml[0] (line 2, column 1): YAML does not parse: expected the node content"),
        ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
         "in.yaml[0] (line 1): is a Kustomization, not a manifest: convert what it builds"),
    ],
)
def test_what_is_not_an_object(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)
