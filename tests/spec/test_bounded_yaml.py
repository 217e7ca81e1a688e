"""Every YAML canarist reads is bounded: no alias expansion in annotations, bounded expansion
elsewhere, shallow nesting, a time budget, and error messages built from a bounded view."""

from __future__ import annotations

import time

import pytest
import yaml

from webhook.errors import ConfigError, SpecError
from webhook.spec import boundedyaml, yamltext
from webhook.spec.canary import parse_canary_spec
from webhook.spec.files import load_documents, validate_file
from webhook.spec.problems import MAX_PROBLEMS, Problems, mapping, show
from webhook.spec.routetable import parse_route_table


def laughs(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: ``width ** levels`` strings from a few hundred bytes."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def quick(fn, *args, seconds: float = 2.0, **kwargs):
    started = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        assert time.monotonic() - started < seconds, f"{fn.__name__} took too long"


def problems_of(text: str, fast: bool = True) -> list[str]:
    """The problems of ``text`` as an annotation (of any size: the nesting is what is tested)."""
    problems = Problems()
    saved = yamltext.use_libyaml
    yamltext.use_libyaml = fast
    try:
        value = yamltext.load_yaml(text, "canarist.io/steps", problems, max_text=len(text))
    finally:
        yamltext.use_libyaml = saved
    assert yamltext.failed(value) == bool(problems)
    return [str(p) for p in problems]


# --- annotations: anchors and aliases refused, with the node's path --------------------------


@pytest.mark.parametrize("fast", [True, False])
def test_an_alias_bomb_in_an_annotation_is_refused_at_once_with_its_path(fast: bool) -> None:
    assert quick(problems_of, laughs(), fast) == [
        "canarist.io/steps.a0: YAML anchors and aliases are not allowed (&a0) at line 1, column 5"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "- setWeight: 10\n- pause: {duration: *d}\n",
            "canarist.io/steps[1].pause.duration: YAML anchors and aliases are not allowed (*d) "
            "at line 2, column 21",
        ),
        (
            "- setWeight: &w 10\n",
            "canarist.io/steps[0].setWeight: YAML anchors and aliases are not allowed (&w) "
            "at line 1, column 14",
        ),
        (
            "- &s {setWeight: 10}\n",
            "canarist.io/steps[0]: YAML anchors and aliases are not allowed (&s) "
            "at line 1, column 3",
        ),
    ],
)
def test_anchors_and_aliases_are_refused_either_way(text: str, problem: str) -> None:
    assert problems_of(text, fast=True) == problems_of(text, fast=False) == [problem]


def test_a_regex_with_a_star_still_reads() -> None:
    steps = (
        "- setHeaderRoute:\n    name: beta\n    match:\n"
        "    - headerName: x-beta\n      headerValue: {regex: 'beta-.*'}\n"
    )
    assert problems_of(steps) == []
    spec = parse_canary_spec(
        {"canarist.io/steps": steps, "canarist.io/traffic-router": "istio",
         "canarist.io/istio-virtual-service": "web"}
    ).spec
    assert spec.steps[0].matches[0].value.value == "beta-.*"  # type: ignore[union-attr]


def test_the_whole_spec_parse_refuses_the_bomb_in_every_yaml_annotation() -> None:
    for key in ("canarist.io/steps", "canarist.io/analysis"):
        with pytest.raises(SpecError) as err:
            quick(parse_canary_spec, {key: laughs()}, deployment="web")
        assert f"{key}.a0: YAML anchors and aliases are not allowed" in str(err.value)


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["[" * 25_000, "[" * 100_000, "é: [" * 30_000, "- " * 60_000, "{a: " * 20_000],
)
@pytest.mark.parametrize("fast", [True, False])
def test_deep_nesting_is_refused_quickly(text: str, fast: bool) -> None:
    (problem,) = quick(problems_of, text, fast, seconds=1.0)
    assert "YAML is nested more than 64 levels deep" in problem


def test_an_annotation_over_64_kib_is_refused_unread() -> None:
    with pytest.raises(SpecError) as err:
        quick(parse_canary_spec, {"canarist.io/steps": "[" * 65537}, seconds=0.1)
    assert "canarist.io/steps: is 65537 characters, larger than 65536" in str(err.value)


def test_nesting_up_to_the_limit_reads() -> None:
    for fast in (True, False):
        assert problems_of("[" * 64 + "]" * 64, fast) == []
        assert problems_of("[" * 65 + "]" * 65, fast) != []


# --- documents: aliases allowed, expansion bounded -------------------------------------------


def test_documents_may_use_a_few_aliases() -> None:
    docs = boundedyaml.load_all("a: &x {b: 1}\nc: *x\n---\nd: 2\n")
    assert docs == [{"a": {"b": 1}, "c": {"b": 1}}, {"d": 2}]


@pytest.mark.parametrize("fast", [True, False])
def test_documents_refuse_an_expanding_alias_bomb(fast: bool) -> None:
    with pytest.raises(boundedyaml.Refused) as err:
        quick(boundedyaml.load_all, laughs(), fast=fast)
    assert "aliases expand to more than 100000 nodes" in str(err.value.problem)
    assert err.value.where.startswith(".a")


def test_documents_refuse_a_recursive_alias() -> None:
    with pytest.raises(boundedyaml.Refused) as err:
        boundedyaml.load("a: &x [1, *x]\n", boundedyaml.DOCUMENT)
    assert err.value.problem == "recursive alias *x"
    assert err.value.where == ".a[1]"


def test_an_alias_cannot_nest_a_document_past_the_depth() -> None:
    deep = "[" * 60 + "1" + "]" * 60
    with pytest.raises(boundedyaml.Refused):
        boundedyaml.load(f"a: &x {deep}\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]"
                         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", boundedyaml.DOCUMENT)


def test_validate_refuses_a_bomb_in_the_file_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        quick(load_documents, laughs(), "deploy.yaml")
    assert str(err.value).startswith("deploy.yaml.a")
    assert "\n" not in str(err.value)


def test_validate_reports_a_bomb_in_an_annotation_of_the_file() -> None:
    manifest = yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"canarist.io/enabled": "true"},
                     "annotations": {"canarist.io/steps": laughs()}},
    })
    report = quick(validate_file, manifest)
    assert not report.ok
    assert "canarist.io/steps.a0: YAML anchors and aliases are not allowed" in report.text


@pytest.mark.parametrize(
    "manifest",
    [
        "kind: Deployment\nmetadata: [1]\n",
        "kind: Deployment\nmetadata: {name: web, labels: x}\n",
        "kind: Deployment\nmetadata: {name: web, labels: {canarist.io/enabled: 'true'}, "
        "annotations: [a]}\n",
        "kind: Deployment\nmetadata: {name: web, labels: {canarist.io/enabled: 'true'}}\n"
        "spec: [1]\n",
        "kind: [List]\nitems: []\n",
    ],
)
def test_validate_reports_misshapen_manifests_instead_of_crashing(manifest: str) -> None:
    try:
        report = validate_file(manifest)
    except ConfigError:
        return
    assert not report.ok or "not opted in" in report.text


def test_a_route_table_refuses_aliases_with_the_path() -> None:
    text = "routes:\n- name: web\n  stable: &s {endpoints: ['127.0.0.1:80']}\n  canary: *s\n"
    with pytest.raises(ConfigError) as err:
        parse_route_table(text, "routes.yaml")
    assert str(err.value) == (
        "routes.yaml: routes[0].stable: YAML anchors and aliases are not allowed (&s) "
        "at line 3, column 11"
    )


def test_a_route_table_bomb_is_refused_quickly() -> None:
    with pytest.raises(ConfigError):
        quick(parse_route_table, "routes:\n" + laughs().replace("a0:", "- a0:"), "routes.yaml")


# --- time ------------------------------------------------------------------------------------


def test_a_time_budget_stops_a_long_parse() -> None:
    text = "é: x\n" + "".join(f"k{i}: [{', '.join(['é'] * 20)}]\n" for i in range(20_000))
    started = time.monotonic()
    with pytest.raises(boundedyaml.OutOfTime), boundedyaml.time_budget(0.05):
        boundedyaml.load(text, boundedyaml.DOCUMENT)
    assert time.monotonic() - started < 1.0


def test_the_time_budget_becomes_a_problem_with_the_path() -> None:
    text = "- setWeight: 1\n" + "".join(f"- pause: {{duration: {i}é}}\n" for i in range(30_000))
    problems = Problems()
    with boundedyaml.time_budget(0.01):
        yamltext.load_yaml(text, "canarist.io/steps", problems, max_text=10**7)
    (problem,) = [str(p) for p in problems]
    assert problem.startswith("canarist.io/steps[")
    assert "YAML took too long to parse" in problem


# --- bounded messages ------------------------------------------------------------------------


def test_show_looks_only_at_what_it_shows() -> None:
    huge = ["x" * 1000] * 1_000_000
    assert quick(show, huge, seconds=0.1) == '["' + "x" * 55 + "..."
    assert quick(show, "y" * 10**7, seconds=0.1).endswith("...")
    assert quick(show, {str(i): i for i in range(200_000)}, seconds=0.5).startswith('{"0": 0')
    assert show(10**5000) == "(an integer of 16610 bits)"
    assert show({"a": [1, None, True]}) == '{"a": [1, null, true]}'


def test_a_mapping_problem_about_a_shared_structure_is_quick() -> None:
    shared: list[object] = ["lol"] * 9
    for _ in range(9):
        shared = [shared] * 9
    problems = Problems()
    quick(mapping, shared, "canarist.io/analysis", problems)
    (problem,) = problems
    assert problem.message.startswith('must be a mapping, got list [[[[[[[[[["lol", "lol"')


def test_problems_are_capped_and_counted() -> None:
    problems = Problems()
    for i in range(MAX_PROBLEMS + 7):
        problems.add(f"p{i}", "bad")
    assert len(problems.items) == MAX_PROBLEMS + 1
    assert problems.items[-1].message == "... and 7 more problems"
    assert problems.full


def test_a_mapping_with_many_unknown_keys_is_quick() -> None:
    analysis = "{" + ", ".join(f"k{i}x{'y' * 50}: 1" for i in range(1_000)) + "}"
    with pytest.raises(SpecError) as err:
        quick(parse_canary_spec, {"canarist.io/analysis": analysis})
    assert "more problems" in str(err.value)
