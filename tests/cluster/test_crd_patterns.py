"""CRD ``pattern``s are Go's regexp, as upstream's: RE2 syntax, checked when the CRD is written
(upstream's message), matched in linear time. They were Python's ``re``: a backtracking engine
inside the API server (one value could stall it), other syntax (lookarounds accepted, ``\\pL``
ignored) and other semantics (``$`` before a final newline)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.cluster.conftest import kubectl, raw
from webhook.cluster import goregexp
from webhook.cluster.runtime import RunningCluster

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_kinds = iter(range(1000))


def crd(pattern: str, *, nested: str = "properties") -> tuple[dict[str, Any], str]:
    """A CRD whose ``spec.name`` (or an ``anyOf`` branch of it) must match ``pattern``; and the
    path of its resources (namespace ``{ns}``, kind ``Gadget<n>`` after the plural's n)."""
    n = next(_kinds)
    plural, group = f"gadgets{n}", "patterns.example.com"
    name: dict[str, Any] = {"type": "string", "pattern": pattern}
    if nested == "anyOf":
        name = {"type": "string", "anyOf": [{"pattern": pattern}]}
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"name": name}}}}
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{plural}.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": plural, "kind": f"Gadget{n}"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": schema}}]}}
    return obj, f"/apis/{group}/v1/namespaces/{{ns}}/{plural}"


def install(cluster: RunningCluster, pattern: str) -> str:
    obj, path = crd(pattern)
    code, _, body = raw(cluster, "POST", CRDS, obj)
    assert code == 201, body
    return path


def create(cluster: RunningCluster, path: str, ns: str, value: str) -> tuple[int, dict[str, Any]]:
    plural = path.rsplit("/", 1)[1]
    code, _, body = raw(cluster, "POST", path.format(ns=ns), {
        "apiVersion": path.split("/")[2] + "/v1", "kind": f"Gadget{plural[7:]}",
        "metadata": {"name": f"g{next(_kinds)}"}, "spec": {"name": value}})
    return code, json.loads(body)


def test_an_invalid_pattern_is_refused_at_crd_creation_as_upstream_words_it(
    api_cluster: RunningCluster,
) -> None:
    obj, _ = crd("+")
    out = kubectl(api_cluster, "apply", "-f", "-", stdin=json.dumps(obj))
    assert out.returncode != 0
    # upstream (apiextensions validation of a structural schema), word for word
    assert (f'The CustomResourceDefinition "{obj["metadata"]["name"]}" is invalid: '
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[name].pattern: "
            'Invalid value: "+": must be a valid regular expression, but isn\'t: error parsing '
            "regexp: missing argument to repetition operator: `+`") in out.stderr, out.stderr
    # nested under a junctor too; and on update
    obj, _ = crd("(?=lookahead)", nested="anyOf")
    code, _, body = raw(api_cluster, "POST", CRDS, obj)
    cause = json.loads(body)["details"]["causes"][0]
    assert code == 422
    assert cause["field"] == ("spec.versions[0].schema.openAPIV3Schema.properties[spec]"
                              ".properties[name].anyOf[0].pattern")
    assert "invalid or unsupported Perl syntax: `(?=`" in cause["message"]
    good, _ = crd("^[a-z]+$")
    code, _, body = raw(api_cluster, "POST", CRDS, good)
    assert code == 201, body
    code, _, body = raw(api_cluster, "GET", f"{CRDS}/{good['metadata']['name']}")
    stored = json.loads(body)
    stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]["name"]["pattern"] = "a{1001}"
    code, _, body = raw(api_cluster, "PUT", f"{CRDS}/{good['metadata']['name']}", stored)
    assert code == 422 and "invalid repeat count: `{1001}`" in body.decode(), body


# Go's regexp where Python's re differed: (pattern, value, matches)
SEMANTICS = [
    ("^[a-z]+$", "abc", True),
    ("^[a-z]+$", "abc\n", False),  # re: $ matches before a final newline; Go: only at the end
    (r"^\pL+$", "abc", True),  # re cannot compile \pL: every value was accepted
    (r"^\pL+$", "abc1", False),
    (r"^[[:alpha:]]+$", "abc1", False),  # re: a nested set, a warning, another meaning
    (r"^\Qa.b\E$", "axb", False),  # re: \Q is a bad escape, so nothing was checked
    (r"^(?P<x>a)(?P<x>b)$", "ab", True),  # duplicate names: Go takes them, re did not
    ("b", "abc", True),  # a match anywhere, as MatchString
]


@pytest.mark.parametrize(("pattern", "value", "ok"), SEMANTICS)
def test_custom_resources_are_matched_as_go_matches(api_cluster: RunningCluster, ns: str,
                                                    pattern: str, value: str, ok: bool) -> None:
    path = install(api_cluster, pattern)
    code, body = create(api_cluster, path, ns, value)
    if ok:
        assert code == 201, body
    else:
        assert code == 422, body
        assert body["details"]["causes"][0]["message"] == (
            f"Invalid value: {json.dumps(value)}: spec.name in body should match "
            f"'{pattern}'")


def test_a_catastrophic_pattern_does_not_stall_the_api_server(api_cluster: RunningCluster,
                                                              ns: str) -> None:
    path = install(api_cluster, "^(a+)+$")
    answered: list[float] = []

    def others() -> None:  # another client meanwhile
        for _ in range(5):
            start = time.monotonic()
            raw(api_cluster, "GET", "/api/v1/namespaces/default")
            answered.append(time.monotonic() - start)

    for size in (26, 100_000):  # 2^26 steps for a backtracking engine; linear for RE2
        side = threading.Thread(target=others)
        start = time.monotonic()
        side.start()
        code, body = create(api_cluster, path, ns, "a" * size + "!")
        took = time.monotonic() - start
        side.join(30)
        assert code == 422 and "should match '^(a+)+$'" in json.dumps(body)
        assert took < 3.0, f"{size} characters took {took:.1f} s"
    assert answered and max(answered) < 3.0, answered


@pytest.mark.parametrize(("pattern", "error"), [
    ("+", "missing argument to repetition operator: `+`"),
    ("(a", "missing closing ): `(a`"),
    ("a)", "unexpected ): `a)`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("[a", "missing closing ]: `[a`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    (r"\8", r"invalid escape sequence: `\8`"),
    (r"a\C", r"invalid escape sequence: `\C`"),  # RE2 (C++) takes \C, Go does not
    (r"(a)\1", r"invalid escape sequence: `\1`"),
    (r"a\Z", r"invalid escape sequence: `\Z`"),
    ("x(?<=a)b", "invalid named capture: `(?<=a)b`"),  # Go reads (?< as a named group
    ("(?<=a)>", "invalid named capture: `(?<=a)>`"),
    ("(?!a)", "invalid or unsupported Perl syntax: `(?!`"),
    ("(?P<é>a)", "invalid named capture: `(?P<é>`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("(a{100}){100}", "invalid repeat count: `{100}`"),
    ("a\\", "trailing backslash at end of expression: ``"),
    ("(" * 1001 + ")" * 1001, "expression nests too deeply"),
    (r"[\pL\pN]{1000}", "expression too large"),  # over RE2's 8 MiB program
])
def test_go_refuses_these_with_these_words(pattern: str, error: str) -> None:
    problem = goregexp.pattern_error(pattern)
    assert problem is not None and problem.startswith("error parsing regexp: ")
    assert error in problem, problem


@pytest.mark.parametrize("pattern", [
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", r"^\pL+$", "[[:alpha:]]", "[]a]", "[^]a]", r"\Q(\E",
    r"\z", "(?i)abc", "(?P<n>a)(?P<n>b)", "(?<n>a)", r"\x{10FFFF}", "(" * 1000 + ")" * 1000,
    r"[\(]" * 1001,
])
def test_go_takes_these(pattern: str) -> None:
    assert goregexp.pattern_error(pattern) is None


def test_the_compiled_patterns_are_bounded_in_bytes() -> None:
    cache = goregexp.COMPILED
    for i in range(80):  # 75,000 RE2 instructions each: 1.2 MB counted
        goregexp.compile_pattern(f"^{i}\\pL{{1,63}}$")
        assert cache.size <= cache.max_bytes
    assert len(cache) < 80
